"""The web app of ``tfdeepfake serve``: :mod:`.analysis` (one recording -> verdict + figure, no web needed) and
:mod:`.app` (the Gradio page; Gradio is the optional ``web`` extra, imported only when a page is built)."""
