"""Report output: text tables, CSV, XLSX, charts and the HTML report. Each
heavy library (xlsxwriter, matplotlib, Jinja2) is imported only when used."""
