"""Code-health figures of the i2i package, from its syntax trees (no import, no torch).

Run: python benchmarks/code_health.py [PACKAGE_DIR]     (default: i2i/ beside this folder)

Prints the lines of i2i/cli/train.py, the number of functions and their median length, the
ten longest functions, and public docstring coverage. A function's length is its lines from
`def` to its last line, decorators and docstring included; nested functions count on their own
(and inside their parent). Public = a module, class, function or method whose name (and every
enclosing class's) does not start with an underscore; methods of a private class are private.
Duplicated code is not measured here: run the `duplicates` tool for that.
"""

from __future__ import annotations

import ast
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def functions(tree: ast.AST):
    """(qualified name, line count) for every function in a module, methods as Class.name."""

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{prefix}{child.name}", child.end_lineno - child.lineno + 1
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def public_definitions(tree: ast.Module, module_public: bool):
    """(kind, name, has docstring) for the module and its public classes, functions, methods."""
    if module_public:
        yield "module", "", ast.get_docstring(tree) is not None
    if not module_public:
        return
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield "function", node.name, ast.get_docstring(node) is not None
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield "class", node.name, ast.get_docstring(node) is not None
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    yield "method", f"{node.name}.{item.name}", ast.get_docstring(item) is not None


def main(package: Path) -> None:
    lengths: list[tuple[int, str]] = []
    coverage: dict[str, list[int]] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent)
        tree = ast.parse(path.read_text(), filename=str(path))
        lengths += [(n, f"{rel}:{name}") for name, n in functions(tree)]
        module_public = not any(part.startswith("_") and part != "__init__.py" for part in rel.parts)
        for kind, _, documented in public_definitions(tree, module_public):
            done, total = coverage.setdefault(kind, [0, 0])
            coverage[kind] = [done + documented, total + 1]
    train = package / "cli" / "train.py"
    if train.is_file():
        print(f"lines of {train.relative_to(package.parent)}: {len(train.read_text().splitlines())}")
    sizes = [n for n, _ in lengths]
    print(
        f"functions: {len(sizes)}; median length {statistics.median(sizes):g} lines, mean {statistics.mean(sizes):.1f}"
    )
    print("longest functions:")
    for n, name in sorted(lengths, reverse=True)[:10]:
        print(f"  {n:4d}  {name}")
    done = sum(d for d, _ in coverage.values())
    total = sum(t for _, t in coverage.values())
    print(f"public docstring coverage: {done}/{total} = {100 * done / total:.1f}%")
    for kind in ("module", "class", "function", "method"):
        d, t = coverage.get(kind, (0, 0))
        print(f"  {kind + ('es' if kind == 'class' else 's'):10s} {d}/{t}" + (f" = {100 * d / t:.1f}%" if t else ""))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "i2i")
