"""Experiments that redo a paper's table or figure offline: each module's ``run(out_dir, ...)`` writes JSON and PNG files and returns their summary."""
