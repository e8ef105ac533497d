"""The report's stylesheet, inlined into the page (a module, not a data file: nothing to
package or find at run time)."""

STYLESHEET = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --bg: #f6f7f9;
        --inside: #2ca02c; --outside: #d62728; --na: #8a93a3; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 20px 32px 12px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 0 0 8px; font-size: 19px; }
.period { margin: 0; font-size: 16px; font-weight: 600; }
.meta, .note { margin: 4px 0 12px; color: var(--muted); }
nav a { margin-right: 16px; color: #1f77b4; text-decoration: none; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 32px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 18px 20px; margin: 18px 0; break-inside: avoid; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
         gap: 12px; }
.tile { border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 6px;
        padding: 10px 12px; min-height: 96px; }
.tile-inside { border-left-color: var(--inside); }
.tile-outside { border-left-color: var(--outside); }
.tile-na { border-left-color: var(--na); }
.tile-title { color: var(--muted); font-size: 12.5px; }
.tile-value { font-size: 24px; font-weight: 650; margin: 2px 0; }
.tile-bench { font-size: 12px; color: var(--muted); }
.badge { display: inline-block; margin-top: 4px; padding: 1px 8px; border-radius: 10px;
         font-size: 11.5px; color: #fff; }
.badge-inside { background: var(--inside); }
.badge-outside { background: var(--outside); }
.badge-na { background: var(--na); }
.chart { margin: 8px 0 14px; min-height: 200px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; align-items: start; }
table { border-collapse: collapse; }
.list { width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
.numbers .total { font-weight: 600; }
details { margin-top: 6px; }
summary { cursor: pointer; color: #1f77b4; }
.reasons { margin: 0; padding-left: 16px; }
.reasons li { margin: 1px 0; }
.list td:nth-child(-n+5) { white-space: nowrap; }
.level { display: inline-block; min-width: 86px; padding: 1px 8px; border-radius: 10px;
         color: #fff; font-weight: 600; font-size: 12px; }
.level-low { background: #6baed6; }
.level-medium { background: #fd8d3c; }
.level-high { background: #d62728; }
@media (max-width: 900px) { .pair { grid-template-columns: 1fr; } }
@media print { body { background: #fff; } section { border: 0; } nav { display: none; } }
"""
