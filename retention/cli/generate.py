"""`retention generate`: a seeded synthetic history as JSON lines, ready for `retention import`."""

from __future__ import annotations

import datetime as dt
import gzip
from typing import IO

import click

from retention.demo.synthetic import PROFILES, HistorySpec, Profile, generate_history, to_json_lines


@click.command()
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--years", type=click.IntRange(min=1), default=3, show_default=True,
              help="Calendar years of history before --end.")
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Day the history stops (excluded, UTC); default today.")
@click.option("--seed", type=int, default=7, show_default=True,
              help="The same seed, size and dates give the same file.")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), required=True,
              help="File to write (`-` for stdout); gzip-compressed when it ends in .gz.")
@click.option("--profile", type=click.Choice(PROFILES), default="shop", show_default=True,
              help="shop: KPIs where real shops are; steady: the original process (about "
                   "an order a month, few leave).")
def generate(customers: int, years: int, end: dt.datetime | None, seed: int, out: str,
             profile: Profile) -> None:
    """Write a synthetic history of purchases, tickets and survey answers as JSON lines.

    The demo's generator: customers buy at their own pace and drop out, unhappy and
    leaving ones complain and score low; about 1% of events are re-sent duplicates.
    """
    end_day = end.date() if end else dt.datetime.now(dt.UTC).date()
    spec = HistorySpec(customers=customers, years=years, seed=seed, profile=profile,
                       end=dt.datetime.combine(end_day, dt.time(), dt.UTC))
    events = generate_history(spec)
    with _open_output(out) as sink:
        for line in to_json_lines(events):
            sink.write(line + "\n")
    where = "stdout" if out == "-" else out
    click.echo(f"wrote {len(events)} events of {customers} customers, "
               f"{spec.start.date()} .. {end_day} (end excluded), to {where}", err=True)


def _open_output(out: str) -> IO[str]:
    if out.endswith(".gz"):
        return gzip.open(out, "wt", encoding="utf-8")
    # `-` is stdout, left open when the `with` ends.
    return click.open_file(out, "w", encoding="utf-8")
