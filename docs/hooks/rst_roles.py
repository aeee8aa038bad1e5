"""MkDocs hook: drop Sphinx roles (``:func:``, ``:mod:``...) left in rendered docstrings.

The package's docstrings use numpy style with Sphinx cross-reference roles; mkdocstrings
renders ``:func:`name``` as the text ``:func:`` followed by ``<code>name</code>``. This hook
keeps the code span and removes the role prefix.
"""
import re

_ROLE = re.compile(r":(?:py:)?(?:func|mod|class|meth|data|attr|exc|obj|const|ref):(?=<code>)")


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
