"""The figures as a table, then the one line CI reads."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from devstack.chaos.context import Run
from devstack.chaos.figures import Figures


def final_line(figures: Figures, run: Run) -> str:
    f = figures
    return (
        f"chaos: invoices={f.invoices} duplicates={f.duplicates} lost={f.lost} "
        f"extra_credit_notes={f.extra_credit_notes} payments_converged={f.payments_converged}/{f.paid} "
        f"converge_seconds={f.converge_seconds:.0f} poisoned={f.poisoned} failed={f.failed} "
        f"missing_credit_notes={f.missing_credit_notes} duplicated_invoices={f.duplicated_invoices} "
        f"host_kills={f.host_kills} seed={run.config.seed} hosts={run.config.hosts}"
    )


def table(figures: Figures, run: Run) -> Table:
    f = figures
    out = Table(title=f"Chaos run: {f.invoices} invoices, seed {run.config.seed}, {run.config.hosts} hosts")
    out.add_column("Figure")
    out.add_column("Value", overflow="fold")
    rows = [
        ("Dynamics invoices created", f.invoices),
        ("Xero invoices for them (live)", f.xero_invoices),
        ("Duplicate Xero invoices", f.duplicates),
        ("Dynamics invoices with more than one", f.duplicated_invoices),
        ("Lost (no Xero invoice)", f.lost),
        ("Export status Failed", f.failed),
        ("Paid in Xero", f.paid),
        ("… marked Paid in Dynamics", f.payments_converged),
        ("Cancelled after approval", f.cancelled),
        ("Credit notes missing", f.missing_credit_notes),
        ("Credit notes beyond one each", f.extra_credit_notes),
        ("Poison messages", f.poisoned),
        ("Host kills (SIGKILL)", f.host_kills),
        ("Xero faults fired", ", ".join(f"{k} {v}" for k, v in sorted(f.xero_faults.items())) or "none"),
        ("Dataverse faults", ", ".join(f"{k} {v}" for k, v in sorted(f.dataverse_faults.items())) or "none"),
        ("Duplicate webhook deliveries", "—" if f.duplicate_webhooks is None else f.duplicate_webhooks),
        ("Dataverse peak requests / 5 min", f.dataverse_peak_5min),
        ("Dataverse service-protection 429s", f.dataverse_throttled),
    ]
    for phase, seconds in run.seconds.items():
        state = "" if run.converged.get(phase, True) else " (NOT converged: timed out)"
        rows.append((f"Seconds: {phase.replace('_', ' ')}", f"{seconds:.1f}{state}"))
    for event in run.kills.events:
        rows.append((f"Kill: {event['point']}", f"{', '.join(event['instances'])} {event['detail']}"))
    for what, ids in f.examples.items():
        if ids:
            rows.append((f"e.g. {what}", ", ".join(ids)))
    for note in run.notes:
        rows.append(("Note", note))
    for name, value in rows:
        out.add_row(name, str(value))
    return out


def print_report(figures: Figures, run: Run, console: Console) -> None:
    console.print(table(figures, run))
    console.print(final_line(figures, run), soft_wrap=True, highlight=False)
