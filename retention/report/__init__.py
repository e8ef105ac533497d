"""The HTML retention report: data through named operations (`data`), Plotly charts
(`charts`), one self-contained page (`page`)."""
