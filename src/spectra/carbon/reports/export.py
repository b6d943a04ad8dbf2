"""Report exports: CSV (month × team × region rows) and PDF (summary tables + monthly chart)."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.pyplot as plt
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from spectra.carbon.budgets.export import write_csv
from spectra.carbon.emissions import service as emissions
from spectra.carbon.reports.schemas import Breakdown, ReportHistory, ReportSummary
from spectra.fleet import service as fleet_service

CSV_COLUMNS = [
    "month",
    "team",
    "region",
    "instance_hours",
    "kwh",
    "scope2_location_kg",
    "scope2_market_kg",
    "scope3_embodied_kg",
    "total_location_based_kg",
    "cost_usd",
]


def report_csv(session: Session, client_id: str | None, start: date, end: date, scope1_kg: float) -> str:
    rows = emissions.totals(session, client_id, start, end, group_by=["day", "team_id", "region"])
    teams = {t.id: t.name for t in fleet_service.list_teams(session, client_id)}
    buckets: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in rows:
        key = (row["day"].strftime("%Y-%m"), teams.get(row["team_id"] or "", "(unassigned)"), row["region"])
        bucket = buckets.setdefault(key, {f: 0.0 for f in emissions.TOTAL_FIELDS})
        for field in emissions.TOTAL_FIELDS:
            bucket[field] += row[field]
    out: list[list[Any]] = []
    for (month, team, region), v in sorted(buckets.items()):
        out.append(
            [
                month,
                team,
                region,
                round(v["instance_hours"], 2),
                round(v["kwh"], 4),
                round(v["co2e_location_g"] / 1000, 4),
                round(v["co2e_market_g"] / 1000, 4),
                round(v["embodied_g"] / 1000, 4),
                round((v["co2e_location_g"] + v["embodied_g"]) / 1000, 4),
                round(v["cost_usd"], 4),
            ]
        )
    if scope1_kg:
        period = f"{start.isoformat()}..{end.isoformat()}"
        out.append([period, "(scope 1: on-site fuel)", "", 0, 0, 0, 0, 0, round(scope1_kg, 4), 0])
    return write_csv(CSV_COLUMNS, out)


def _chart(history: ReportHistory) -> io.BytesIO:
    months = [p.month for p in history.months]
    scope2 = [p.scope2_location_kg for p in history.months]
    scope3 = [p.scope3_embodied_kg for p in history.months]
    scope1 = [p.scope1_kg for p in history.months]
    fig, ax = plt.subplots(figsize=(7.5, 3.2), dpi=120)
    ax.bar(months, scope1, label="Scope 1", color="#8c564b")
    ax.bar(months, scope2, bottom=scope1, label="Scope 2 (location-based)", color="#1f77b4")
    ax.bar(months, scope3, bottom=[a + b for a, b in zip(scope1, scope2, strict=True)], label="Scope 3 (embodied)",
           color="#ff7f0e")  # fmt: skip
    ax.plot(months, [p.total_market_based_kg for p in history.months], color="#2ca02c", marker="o",
            label="Total, market-based")  # fmt: skip
    ax.set_ylabel("kg CO2e")
    ax.set_title("Monthly emissions")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    buffer.seek(0)
    return buffer


def _table(data: list[list[Any]], widths: list[float] | None = None) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def _breakdown_rows(items: list[Breakdown], label: str) -> list[list[Any]]:
    rows: list[list[Any]] = [[label, "Location kg", "Market kg", "Embodied kg", "Total kg", "kWh", "Cost USD"]]
    for b in items[:25]:
        rows.append(
            [b.name[:40], f"{b.location_based_kg:,.1f}", f"{b.market_based_kg:,.1f}", f"{b.embodied_kg:,.1f}",
             f"{b.total_kg:,.1f}", f"{b.kwh:,.1f}", f"{b.cost_usd:,.2f}"]
        )  # fmt: skip
    return rows


def report_pdf(summary: ReportSummary, history: ReportHistory, title: str) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=title, leftMargin=1.6 * cm, rightMargin=1.6 * cm)
    s = summary
    story: list[Any] = [
        Paragraph(title, styles["Title"]),
        Paragraph(f"Period {s.start.isoformat()} to {s.end.isoformat()} ({s.days} days, UTC)", styles["Normal"]),
        Spacer(1, 0.4 * cm),
        Paragraph("Emissions by scope", styles["Heading2"]),
        _table(
            [
                ["Scope", "Location-based kg CO2e", "Market-based kg CO2e"],
                ["Scope 1 (on-site fuel)", f"{s.scope1.co2e_kg:,.2f}", f"{s.scope1.co2e_kg:,.2f}"],
                [
                    "Scope 2 (purchased electricity)",
                    f"{s.scope2.location_based_kg:,.2f}",
                    f"{s.scope2.market_based_kg:,.2f}",
                ],
                ["Scope 3 (embodied hardware)", f"{s.scope3.embodied_kg:,.2f}", f"{s.scope3.embodied_kg:,.2f}"],
                ["Total", f"{s.total_location_based_kg:,.2f}", f"{s.total_market_based_kg:,.2f}"],
            ]
        ),
        Spacer(1, 0.2 * cm),
        Paragraph(
            f"Energy {s.scope2.kwh:,.1f} kWh; cost {s.cost_usd:,.2f} USD; {s.inputs.instances} instances, "
            f"{s.inputs.instance_hours:,.0f} instance-hours; measured utilisation for "
            f"{100 * s.inputs.measured_utilisation_share:.0f}% of hours; billed cost "
            f"{100 * s.inputs.billed_cost_share:.0f}% of cost.",
            styles["Normal"],
        ),
        Spacer(1, 0.3 * cm),
        Image(_chart(history), width=17 * cm, height=7.25 * cm),
        Paragraph("By team", styles["Heading2"]),
        _table(_breakdown_rows(s.by_team, "Team")),
        Paragraph("By region", styles["Heading2"]),
        _table(_breakdown_rows(s.by_region, "Region")),
        Paragraph("Method", styles["Heading2"]),
    ]
    for name, text in s.method.model_dump().items():
        story.append(Paragraph(f"<b>{name.capitalize()}</b>: {text}", styles["Normal"]))
    doc.build(story)
    return buffer.getvalue()
