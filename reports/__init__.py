"""Reports: the weekly mention report as a self-contained HTML file, a CSV of the week's mentions and a PDF."""
