"""`i2i serve`: the local web page (i2i/ui), for those who would rather drop a photo than type."""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated

import typer

from ..engine.options import EngineOptions
from ..errors import UsageError
from . import app
from .options import MaxOutputPixels, MaxPixels
from .output import note, say


def _warn_if_public(host: str) -> None:
    """A warning unless only this machine can reach the page: it has no login."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:  # a host name: it may resolve to any interface
        pass
    say(
        f"warning: --host {host}: every machine that can reach this one on the port can use the page "
        "(run models, upload files); it has no login. Use the default 127.0.0.1 unless you mean that."
    )


_LIMITS = EngineOptions()  # the page's limits default to the command line's


@app.command("serve")
def serve(
    host: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS",
            help="Interface to listen on: 127.0.0.1 (this machine only); 0.0.0.0 for every interface (warned: no login).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 7860,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default web browser.")] = False,
    max_pixels: MaxPixels = _LIMITS.max_pixels,
    max_output_pixels: MaxOutputPixels = _LIMITS.max_output_pixels,
    max_file_mb: Annotated[
        float, typer.Option(metavar="MB", help="Refuse uploaded files larger than this many megabytes.", min=0.001)
    ] = 100.0,
):
    """Serve a local web page for upscale, stylize, colorize, translate and generate: several
    files at once (images, animations, short videos), a before/after slider, downloads at full
    resolution in the input's format. One model runs at a time; uploads and results live in a
    temporary folder removed at exit. No share links. Needs `pip install 'i2i[ui]'`.

    Example: i2i serve --open
    """
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise UsageError("i2i serve needs Gradio: pip install 'i2i[ui]' (make installs it)")
    from ..ui.jobs import Limits, Workspace

    _warn_if_public(host)
    limits = Limits(max_pixels=max_pixels, max_output_pixels=max_output_pixels, max_file_bytes=int(max_file_mb * 1e6))
    with Workspace(limits) as workspace:
        page = _launch(workspace, host, port, open_browser)
        try:
            while True:  # until Ctrl-C, SIGTERM or SIGHUP (cli.main: exit 130, 143, 129)
                time.sleep(3600)
        finally:
            page.close()


def _launch(workspace, host: str, port: int, open_browser: bool):
    import os

    # Gradio keeps uploads and the copies of results it serves in its cache: inside the workspace,
    # so that they are removed with it (set before Gradio is imported: some of it reads this once).
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.folder / "gradio")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ..ui.page import build_page

    page = build_page(workspace)
    page.queue(default_concurrency_limit=1)
    try:
        _, url, _ = page.launch(
            server_name=host,
            server_port=port,
            inbrowser=open_browser,
            share=False,
            prevent_thread_lock=True,
            quiet=True,
            max_file_size=workspace.limits.max_file_bytes,
            footer_links=[],
            mcp_server=False,
            ssr_mode=False,
            pwa=False,
        )
    except OSError as e:
        raise UsageError(f"cannot serve on {host}:{port} ({e}); choose another --port") from None
    say(f"i2i serve: {url} (Ctrl-C stops)")
    note(f"uploads and results in {workspace.folder} (removed at exit)")
    return page
