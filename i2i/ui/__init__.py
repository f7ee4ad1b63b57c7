"""`i2i serve`: a local web page over the same library the command line uses.

jobs.py runs the page's jobs (one model at a time, models kept loaded, uploads and results in a
temporary folder, the command line's limits and one-line errors) and needs no web framework;
page.py is the Gradio page (`pip install 'i2i[ui]'`).
"""
