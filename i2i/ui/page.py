"""The `i2i serve` page (Gradio Blocks): a tab per task, run through ui/jobs.py.

Each tab takes several files at once (images, animations, short videos), the task's models as
`i2i models` lists them, and the command's main options with the command line's own defaults
and help, read from its declarations (cli/run.py, cli/options.py), so the page and the command
line cannot disagree. A run shows a progress bar (and its place in the queue while another job
runs), a before/after slider for each result, the full-resolution results to download in the
input's format, and each failed file's one-line error.
"""

from __future__ import annotations

from functools import cache

import gradio as gr

from ..engine.commands import ColorizeOptions, StylizeOptions, TranslateOptions, UpscaleOptions
from .jobs import GenerateOptions, JobResult, Request, Workspace

TASKS = ("upscale", "stylize", "colorize", "translate")
KINDS = {  # the model kinds (Task.kind) a tab offers: engine.commands.ACCEPTS, and generate's own
    "upscale": ("upscale", "restore"),
    "stylize": ("stylize",),
    "colorize": ("colorize",),
    "translate": ("translate", "restore"),
    "generate": ("generate",),
}
CLIP_OPTIONS = ("codec", "crf", "pix_fmt", "temporal", "norm_window", "smoothing", "cut_threshold")


@cache
def cli_options(command: str) -> dict:
    """{parameter name: click parameter} of `i2i COMMAND`: default, help, min, max, metavar."""
    import typer.main

    from ..cli import _register, app

    _register()
    return {p.name: p for p in typer.main.get_command(app).commands[command].params}


def default(command: str, name: str):
    """The command line's default of `i2i COMMAND`'s option NAME (a parameter name)."""
    return cli_options(command)[name].default


def helped(command: str, name: str) -> dict:
    """label and info (the command line's help) of an option, for a Gradio component."""
    param = cli_options(command)[name]
    flag = max(param.opts, key=len)
    return {"label": flag, "info": param.help}


def choices(command: str, name: str) -> list[str]:
    """The values an option names in its metavar (fp32|fp16|bf16|auto)."""
    return cli_options(command)[name].metavar.split("|")


@cache
def models_by_kind() -> dict[str, list[str]]:
    """Model names per task kind, shipped first, as `i2i models` lists them (files it cannot
    read are left out, as that command reports them)."""
    from ..checkpoint import model_info
    from ..errors import I2IError
    from ..models import all_models

    found: dict[str, list[str]] = {}
    for entry in all_models():
        try:
            kind = model_info(entry.path, check_tensors=False).task.kind
        except I2IError:
            continue
        names = found.setdefault(kind, [])
        if entry.name not in names:  # a user file named like a shipped model resolves to it
            names.append(entry.name)
    return found


def task_models(task: str) -> list[str]:
    """The model names a task's tab offers (KINDS), shipped first."""
    found = models_by_kind()
    return [name for kind in KINDS[task] for name in found.get(kind, [])]


def build_page(workspace: Workspace) -> gr.Blocks:
    """The page; run its jobs through `workspace`. Queue it before launching (serve.py does)."""
    with gr.Blocks(title="i2i", analytics_enabled=False) as page:
        gr.Markdown(
            "## i2i: upscale, stylize, colorize, translate, generate\n"
            "Drop images, animations or short videos; each result downloads at full resolution "
            "in its input's format. One model runs at a time: jobs wait their turn."
        )
        with gr.Tabs():
            for task in TASKS:
                with gr.Tab(task.capitalize(), id=task):
                    _task_tab(task, workspace)
            with gr.Tab("Generate", id="generate"):
                _generate_tab(workspace)
    return page


def _model_choices(task: str) -> tuple[list, str | None]:
    names = task_models(task)
    if task == "upscale":
        blend = "auto: the shipped x4 models blended per photo (--denoise auto)"
        return [(blend, "")] + [(n, n) for n in names], ""
    if task == "stylize":
        wanted = default("stylize", "style")
        value = next((n for n in (wanted, f"style-{wanted}") if n in names), names[0] if names else None)
        return names, value
    if task == "translate":  # the command line has no default: the first translation model
        return names, names[0] if names else None
    wanted = default(task, "model")
    return names, wanted if wanted in names else (names[0] if names else None)


def _task_tab(task: str, workspace: Workspace) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            files, model, own, engine = _inputs_column(task)
            run = gr.Button("Run", variant="primary", elem_id=f"{task}-run")
        with gr.Column(scale=2):
            shown_parts = _results_column(task)
    slider, compare, video, status, errors, downloads = shown_parts
    shown = gr.State([])  # [(name, before, after)] of this browser tab's last job
    backend, precision, tile = engine
    fields = [files, model, backend, precision, *own.values(), *([tile] if tile else [])]

    def execute(values: dict, progress=gr.Progress()):  # noqa: B008  (Gradio finds the bar by this default)
        # The page shows backend, precision and tile; the others keep the command line's defaults.
        engine = {"backend": values[backend], "precision": values[precision]}
        try:
            if tile is not None:
                engine["tile"] = _whole(values[tile], "--tile", 0)
            options = _options(task, values[model], {name: values[c] for name, c in own.items()})
        except ValueError as e:
            return {errors: str(e), status: "Not run.", slider: None, downloads: None, shown: []}
        request = Request.of(options, video=_video_options(task), **engine)
        result = workspace.run(request, values[files] or [], lambda f, text: progress(f, desc=text))
        return _show_result(result, *shown_parts, shown)

    run.click(
        execute,
        inputs=set(fields),
        outputs=[*shown_parts, shown],
        concurrency_limit=1,
        concurrency_id="model",
    )
    compare.change(_compare, inputs=[compare, shown], outputs=slider, queue=False)


def _inputs_column(task: str) -> tuple:
    """The files, the model, the command's own options and the engine's: -> (files, model,
    {name: component}, (backend, precision, tile or None))."""
    model_flag = "style" if task == "stylize" else "model"
    files = gr.File(file_count="multiple", label="Images, animations or short videos", elem_id=f"{task}-files")
    model_choices, model_value = _model_choices(task)
    model = gr.Dropdown(model_choices, value=model_value, elem_id=f"{task}-model", **helped(task, model_flag))
    own = _own_options(task)
    with gr.Accordion("Engine", open=False, elem_id=f"{task}-engine"):
        backend = gr.Dropdown(
            choices(task, "backend"),
            value=default(task, "backend"),
            elem_id=f"{task}-backend",
            **helped(task, "backend"),
        )
        precision = gr.Dropdown(
            choices(task, "precision"), value=default(task, "precision"), **helped(task, "precision")
        )
        # Text, not a number box: empty is the command line's default (automatic), which
        # Gradio's number box would send as 0 (never tile).
        tile = (
            gr.Textbox(value=_text(default(task, "tile")), placeholder="automatic", **helped(task, "tile"))
            if "tile" in cli_options(task)
            else None
        )
    return files, model, own, (backend, precision, tile)


def _results_column(task: str) -> tuple:
    """-> (slider, compare, video, status, errors, downloads): a job's results as shown."""
    slider = gr.ImageSlider(type="filepath", label="Before / after (preview)", elem_id=f"{task}-slider", max_height=640)
    compare = gr.Dropdown([], label="Compare", interactive=True, elem_id=f"{task}-compare")
    video = gr.Video(label="Video result", visible=False, interactive=False)
    status = gr.Markdown(elem_id=f"{task}-status")
    errors = gr.Textbox(label="Errors", lines=2, interactive=False, elem_id=f"{task}-errors")
    downloads = gr.File(
        label="Results (full resolution)", file_count="multiple", interactive=False, elem_id=f"{task}-downloads"
    )
    return slider, compare, video, status, errors, downloads


def _own_options(task: str) -> dict:
    """The command's own main options as components, by parameter name."""
    if task == "upscale":
        return {
            "scale": gr.Textbox(
                value=_text(default(task, "scale")), placeholder="the model's own", **helped(task, "scale")
            ),
            # The command line's default is no value: auto without --model, the model as it is with one.
            "denoise": gr.Dropdown(
                [("default: auto, or the chosen model as it is", ""), "auto", "0", "0.25", "0.5", "0.75", "1"],
                value=default(task, "denoise") or "",
                allow_custom_value=True,
                **helped(task, "denoise"),
            ),
        }
    if task == "stylize":
        return {
            "strength": gr.Slider(0, 1, value=default(task, "strength"), step=0.05, **helped(task, "strength")),
            "preserve_color": gr.Checkbox(value=default(task, "preserve_color"), **helped(task, "preserve_color")),
        }
    if task == "colorize":
        param = cli_options(task)["render_size"]
        return {
            "render_size": gr.Number(
                value=param.default, minimum=param.min, maximum=param.max, precision=0, **helped(task, "render_size")
            ),
            "saturation": gr.Slider(
                0,
                cli_options(task)["saturation"].max,
                value=default(task, "saturation"),
                step=0.05,
                **helped(task, "saturation"),
            ),
            "portrait": gr.Dropdown(
                ["auto", "0", "0.25", "0.5", "0.75", "1"],
                value=default(task, "portrait"),
                allow_custom_value=True,
                **helped(task, "portrait"),
            ),
        }
    return {}


def _options(task: str, model: str | None, own: dict):
    """The command's options from the page's values; ValueError with the command line's words."""
    if task == "upscale":
        denoise = _auto_or_share(own["denoise"] or None, "--denoise")
        return UpscaleOptions(model=model or "", scale=_scale(own["scale"]), denoise=denoise)
    if not model:
        raise ValueError(f"no {task} model found: `i2i models` lists them")
    if task == "stylize":
        return StylizeOptions(style=model, strength=float(own["strength"]), preserve_color=bool(own["preserve_color"]))
    if task == "colorize":
        return ColorizeOptions(
            model=model,
            render_size=int(own["render_size"]),
            saturation=float(own["saturation"]),
            portrait=_auto_or_share(own["portrait"] or "auto", "--portrait"),
        )
    return TranslateOptions(model=model)


def _auto_or_share(value: str | None, flag: str) -> str | None:
    """auto, a number within 0..1 or None, as the command line takes it; ValueError in its words."""
    from ..cli.run import _auto_or_share as check

    try:
        return check(value)
    except Exception as e:  # typer.BadParameter: the message the command line gives
        raise ValueError(f"{flag} {e}") from None


def _text(value) -> str:
    return "" if value is None else str(value)


def _whole(text: str | None, flag: str, minimum: int) -> int | None:
    """A whole number typed in a text box (empty: None, the command line's default)."""
    if not (text or "").strip():
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{flag} must be a whole number, not {text!r}") from None
    if value < minimum:
        raise ValueError(f"{flag} must be at least {minimum}, not {value}")
    return value


def _scale(text: str | None) -> float | None:
    param = cli_options("upscale")["scale"]
    if not (text or "").strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not param.min <= value <= param.max:  # also refuses nan
        raise ValueError(f"--scale must be a number from {param.min:g} to {param.max:g}, not {text!r}")
    return value


def _video_options(task: str):
    from ..cli.clip_options import video_options

    return video_options({name: default(task, name) for name in CLIP_OPTIONS})


def _show_result(result: JobResult, slider, compare, video, status, errors, downloads, shown) -> dict:
    from ..data.media_types import VIDEO_SUFFIXES

    pairs = [(o.name, str(o.before), str(o.after)) for o in result.outputs if o.after is not None]
    videos = [o.path for o in result.outputs if o.path is not None and o.path.suffix.lower() in VIDEO_SUFFIXES]
    done = len(result.files)
    failed = len(result.errors)
    summary = f"{done} result(s)" + (f", {failed} failed" if failed else "") + f" (job {result.id})"
    return {
        slider: (pairs[0][1], pairs[0][2]) if pairs else None,
        compare: gr.Dropdown([p[0] for p in pairs], value=pairs[0][0] if pairs else None),
        video: gr.Video(value=str(videos[0]) if videos else None, visible=bool(videos)),
        status: summary,
        errors: "\n".join(result.errors),
        downloads: [str(p) for p in result.files] or None,
        shown: pairs,
    }


def _compare(name: str | None, pairs: list):
    pair = next((p for p in pairs if p[0] == name), None)
    return (pair[1], pair[2]) if pair else None


def _generate_tab(workspace: Workspace) -> None:
    task = "generate"
    with gr.Row():
        with gr.Column(scale=1):
            names = task_models(task)
            wanted = default(task, "model")
            model = gr.Dropdown(
                names, value=wanted if wanted in names else (names[0] if names else None), **helped(task, "model")
            )
            n = gr.Slider(1, 64, value=default(task, "n"), step=1, **helped(task, "n"))
            seed = gr.Number(value=default(task, "seed"), precision=0, **helped(task, "seed"))
            truncation = gr.Number(value=default(task, "truncation"), minimum=0, **helped(task, "truncation"))
            run = gr.Button("Generate", variant="primary", elem_id="generate-run")
        with gr.Column(scale=2):
            gallery = gr.Gallery(label="Samples", columns=8, elem_id="generate-gallery")
            errors = gr.Textbox(label="Errors", lines=1, interactive=False, elem_id="generate-errors")
            downloads = gr.File(label="Images", file_count="multiple", interactive=False)

    def execute(model_name, count, seed_value, trunc, progress=gr.Progress()):  # noqa: B008  (Gradio finds the bar by this default)
        options = GenerateOptions(
            model=model_name or default(task, "model"),
            n=int(count),
            seed=int(seed_value or 0),
            truncation=None if trunc in (None, "") else float(trunc),
        )
        device = default(task, "device")
        result = workspace.run(Request.of(options, device=device), [], lambda f, text: progress(f, desc=text))
        samples = [str(o.path) for o in result.outputs[1:]]
        return samples, "\n".join(result.errors), [str(p) for p in result.files] or None

    run.click(
        execute,
        inputs=[model, n, seed, truncation],
        outputs=[gallery, errors, downloads],
        concurrency_limit=1,
        concurrency_id="model",
    )
