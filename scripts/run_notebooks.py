#!/usr/bin/python3
"""Execute tslab notebooks on fresh kernels and optionally export them to self-contained HTML.

Runs on Debian's Python (nbclient 0.7, nbformat 5, nbconvert 6.5). The .ipynb files are never written.

    run_notebooks.py --mode quick|full [--out DIR] [--no-code] [--index] [--timeout SEC_PER_CELL]
                     [--verbose] [--outputs] NOTEBOOK...

--verbose prints one line per code cell (index, seconds, what it output); --outputs also prints each
cell's text output (stdout, stderr and text/plain results; figures are named, not printed).
--no-code leaves the code cells out of the HTML (prose, figures and printed results stay): for
colleagues who read rather than run. --index also writes DIR/index.html, linking every report with its
notebook's title and first paragraph, and the lib's API reference DIR/api/index.html (`npm run docs` builds
it in reports/api; `npm run report` builds it first).
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbconvert import HTMLExporter

REPO = Path(__file__).resolve().parent.parent
KERNEL = "tslab"

# The lab template loads require.js and MathJax from a CDN; reports must work offline.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["quick", "full"], required=True, help="exported to the kernel as FBC_MODE")
    p.add_argument("--out", type=Path, help="write <out>/<notebook-stem>.html")
    p.add_argument("--no-code", action="store_true", help="leave code cells out of the HTML reports")
    p.add_argument("--index", action="store_true", help="also write <out>/index.html linking every report")
    p.add_argument("--timeout", type=int, help="seconds per cell (default: 900 full, 300 quick)")
    p.add_argument("--verbose", action="store_true", help="one summary line per code cell")
    p.add_argument("--outputs", action="store_true", help="print each cell's text output (implies --verbose)")
    p.add_argument("notebooks", nargs="+", type=Path)
    args = p.parse_args()
    args.verbose = args.verbose or args.outputs
    if args.timeout is None:
        args.timeout = 900 if args.mode == "full" else 300
    return args


def error_text(cell, exc):
    """tslab reports a failure on the cell's stderr stream; nbclient's exception only says '<Error>: '."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stderr":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append("\n".join(out.get("traceback") or [f"{out.ename}: {out.evalue}"]))
    if not parts or not hasattr(exc, "ename"):  # timeouts, dead kernels, set-up failures
        parts.append(f"{type(exc).__name__}: {exc}")
    return "\n".join(p.rstrip("\n") for p in parts)


def output_kinds(cell):
    """A short description of a cell's outputs, e.g. 'stdout 3 lines, 2 figures'."""
    lines = {"stdout": 0, "stderr": 0}
    figures = tables = values = 0
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines[out.name] = lines.get(out.name, 0) + len(out.text.splitlines())
        elif out.output_type in ("display_data", "execute_result"):
            data = out.get("data", {})
            if "application/vnd.plotly.v1+json" in data or "plotly" in data.get("text/html", "").lower():
                figures += 1
            elif "text/html" in data:
                tables += 1
            else:
                values += 1
    parts = [f"{k} {n} line{'s' * (n != 1)}" for k, n in lines.items() if n]
    parts += [f"{n} {w}{'s' * (n != 1)}" for n, w in ((figures, "figure"), (tables, "HTML table"), (values, "value")) if n]
    return ", ".join(parts) or "no output"


def cell_text(cell):
    texts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            texts.append(out.text)
        elif out.output_type in ("display_data", "execute_result") and "text/plain" in out.get("data", {}):
            if "application/vnd.plotly.v1+json" not in out.data:
                texts.append(out.data["text/plain"] + "\n")
    return "".join(texts).rstrip("\n")


def write_atomic(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".html.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_html(nb, path, no_code=False):
    exporter = HTMLExporter(extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                            template_file="offline.html.j2",
                            exclude_input=no_code, exclude_input_prompt=no_code, exclude_output_prompt=no_code)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    write_atomic(path, body)


def title_and_intro(path):
    """The notebook's title (its first '# ' heading) and the first paragraph after it, as HTML."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    nb = nbformat.read(path, as_version=4)
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first is None:
        return path.stem, ""
    lines = first.source.strip().splitlines()
    title = path.stem
    if lines and lines[0].startswith("# "):
        title, lines = lines[0][2:].strip(), lines[1:]
    paragraphs = [p.strip() for p in "\n".join(lines).split("\n\n") if p.strip()]
    return title, markdown2html_mistune(paragraphs[0]) if paragraphs else ""


def write_index(out, notebooks, args, results):
    import html
    items = []
    for path in notebooks:
        title, intro = title_and_intro(path)
        status = "" if results.get(path, False) else ' <span class="failed">(this run failed; the report shows where)</span>'
        items.append(f'<li><h2><a href="{html.escape(path.stem)}.html">{html.escape(title)}</a>{status}</h2>'
                     f'<div class="intro">{intro}</div><p class="file">{html.escape(path.name)}</p></li>')
    mode = "full mode, from the shipped data" if args.mode == "full" else "quick mode (small recomputed versions)"
    code = "code cells hidden" if args.no_code else "with code"
    if (out / "api" / "index.html").exists():
        api = ('<p class="api"><a href="api/index.html">API reference</a> of the lib (<code>fbcontrol</code>): '
               'every exported module, class and function, built by <code>npm run docs</code>.</p>')
    else:
        api = ('<p class="api"><a href="api/index.html">API reference</a> of the lib (<code>fbcontrol</code>): '
               'not built yet; <code>npm run docs</code> writes it to reports/api/ '
               '(<code>npm run report</code> builds it first).</p>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback control guides credit assignment: reports</title>
<style>body{{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}}
li{{list-style:none;margin:0 0 1.6em 0}} h2{{font-size:1.15em;margin:0 0 .3em 0}} .file{{color:#777;font-size:.85em;margin:.2em 0}}
.failed{{color:#b00;font-size:.8em}} code{{background:#f3f3f3;padding:0 .2em}}</style></head>
<body><h1>Feedback control guides credit assignment in recurrent neural networks</h1>
<p>Reports of the notebooks reproducing Kaleb, Feulner, Gallego &amp; Clopath (NeurIPS 2024), {mode}, {code};
written {time.strftime("%Y-%m-%d %H:%M")}. Each report is self-contained and opens offline.</p>
{api}
<ul>{"".join(items)}</ul></body></html>
"""
    write_atomic(out / "index.html", page)


def run_notebook(path, args):
    """Execute one notebook; return True on success. Prints the failing cell and its error otherwise."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # a partial report must not show outputs saved in the file
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None

    # NotebookClient.execute numbers the cells it runs (tslab itself leaves execution_count empty).
    current = {}

    def started(cell, cell_index):
        current.update(cell=cell, index=cell_index, start=time.monotonic())

    def finished(cell, cell_index, execute_reply):
        if not args.verbose or cell.cell_type != "code":
            return
        first = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
        print(f"  cell {cell_index:3d} {time.monotonic() - current['start']:6.1f} s  {output_kinds(cell):40s} | {first}", flush=True)
        if args.outputs and cell_text(cell):
            print("    " + cell_text(cell).replace("\n", "\n    "), flush=True)

    client = NotebookClient(nb, kernel_name=KERNEL, timeout=args.timeout, on_cell_execute=started, on_cell_executed=finished)
    ok = True
    try:
        client.execute(cwd=str(path.parent.resolve()))
    except Exception as exc:  # any failure ends this notebook only
        ok = False
        cell, index = current.get("cell"), current.get("index")
        print(f"\n=== {path}: cell {index} (0-based, all cell types) failed ===", flush=True)
        if cell is not None:
            print(f"--- source ---\n{cell.source}")
        print(f"--- error ---\n{error_text(cell or {}, exc)}\n=== end of {path} error ===\n", flush=True)

    if args.out:
        write_html(nb, args.out / f"{path.stem}.html", no_code=args.no_code)
    return ok


def main():
    args = parse_args()
    if not (REPO / ".jupyter/kernels" / KERNEL / "kernel.json").is_file():
        sys.exit(f"run_notebooks: no {KERNEL} kernel in {REPO / '.jupyter'}; run `npm run setup` first")
    os.environ["FBC_MODE"] = args.mode
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(REPO / ".jupyter"), os.environ.get("JUPYTER_PATH")]))

    if (args.index or args.no_code) and not args.out:
        sys.exit("run_notebooks: --index and --no-code need --out")
    passed = failed = 0
    results = {}
    for path in args.notebooks:
        start = time.monotonic()
        try:
            ok = run_notebook(path, args)
        except Exception as exc:  # unreadable notebook, HTML export failure
            print(f"{path}: {type(exc).__name__}: {exc}", flush=True)
            ok = False
        results[path] = ok
        passed += ok
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {path} ({time.monotonic() - start:.1f} s)", flush=True)
    if args.index:
        write_index(args.out, args.notebooks, args, results)
        print(f"index: {args.out / 'index.html'}", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
