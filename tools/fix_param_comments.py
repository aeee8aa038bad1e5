"""Rewrite '=' inside help comments of a notebook's parameters cell (papermill cannot parse them)."""
import re
import sys

import nbformat

for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "parameters" not in cell.metadata.get("tags", []):
            continue
        lines = []
        for line in cell.source.splitlines():
            code, sep, comment = line.partition("  # ")
            comment = re.sub(r"\s*=\s*", " means ", comment) if sep else comment
            lines.append(code + sep + comment)
        cell.source = "\n".join(lines)
    nbformat.write(nb, path)
