"""Back from Xero and cancellation on devstack (B1–B4, X1–X3): Xero → webhook → queue → Dynamics."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.domain.dynamics import ExportStatus, XeroDetails
from devstack.scenario import Scenario, invoice_state, sync_history, wait_for, xero_details

pytestmark = pytest.mark.e2e

PAID = (2, 100001)
CANCELED = (3, 100003)


def synced_invoice(
    scenario: Scenario, price: str = "100.00", customer: str = "Contoso Ltd"
) -> tuple[str, XeroDetails]:
    """An invoice created in Dynamics and synced to Xero (as DRAFT): (Dynamics id, its Xero details)."""
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    created = dataverse.ui_create_invoice(
        account_id=scenario.account_id(customer),
        name="Consulting",
        currency="NZD",
        date_delivered=date.today().isoformat(),
        lines=[
            {
                "write_in": "Consulting",
                "quantity": "1",
                "price": price,
                "tax": str(Decimal(price) * Decimal("0.15")),
            }
        ],
    )
    details = wait_for(
        lambda: (d := xero_details(created["id"])) and d.export_status == ExportStatus.YES and d
    )
    return created["id"], details


def xero_invoice(scenario: Scenario, xero_id: str) -> dict[str, Any]:
    assert scenario.platform.xero is not None
    return scenario.platform.xero.state.tenants[scenario.tenant_id].invoices[xero_id]


def credit_notes(scenario: Scenario) -> list[dict[str, Any]]:
    assert scenario.platform.xero is not None
    return list(scenario.platform.xero.state.tenants[scenario.tenant_id].credit_notes.values())


def test_b2_partial_then_full_payment_reaches_dynamics(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    invoice_id, details = synced_invoice(scenario)
    assert details.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, details.xero_invoice_id)
    started = time.monotonic()
    xero.pay(scenario.tenant_id, details.xero_invoice_id, "40.00")
    part = wait_for(lambda: (d := xero_details(invoice_id)) and d.amount_paid == Decimal("40.00") and d)
    latency = time.monotonic() - started
    assert (part.amount_due, part.xero_status) == (Decimal("75.00"), "AUTHORISED")
    assert invoice_state(invoice_id)[0] == 0  # a part payment leaves the Dynamics status alone
    xero.pay(scenario.tenant_id, details.xero_invoice_id, "75.00")
    wait_for(lambda: invoice_state(invoice_id) == PAID)
    final = xero_details(invoice_id)
    assert final is not None and (final.xero_status, final.amount_due) == ("PAID", Decimal("0.00"))
    print(f"payment event → Dynamics latency: {latency:.2f}s")


def test_x1_cancel_of_approved_invoice_makes_one_allocated_credit_note(scenario: Scenario) -> None:
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None
    invoice_id, details = synced_invoice(scenario)
    assert details.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, details.xero_invoice_id)
    wait_for(lambda: (d := xero_details(invoice_id)) and d.xero_status == "AUTHORISED")
    dataverse.ui_cancel(invoice_id)
    wait_for(lambda: (d := xero_details(invoice_id)) and d.credit_note_id)
    wait_for(lambda: xero_invoice(scenario, details.xero_invoice_id)["AmountDue"] == 0)
    assert len(credit_notes(scenario)) == 1  # Update and SetStateDynamicEntity both arrived: still one
    assert invoice_state(invoice_id) == CANCELED


def test_x1_cancel_of_draft_deletes_it_in_xero(scenario: Scenario) -> None:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    invoice_id, details = synced_invoice(scenario)
    assert details.xero_invoice_id is not None
    dataverse.ui_cancel(invoice_id)
    wait_for(lambda: xero_invoice(scenario, details.xero_invoice_id)["Status"] == "DELETED")
    assert credit_notes(scenario) == []


def test_x2_delete_of_approved_invoice_voids_it(scenario: Scenario) -> None:
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None
    invoice_id, details = synced_invoice(scenario)
    assert details.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, details.xero_invoice_id)
    wait_for(lambda: (d := xero_details(invoice_id)) and d.xero_status == "AUTHORISED")
    dataverse.ui_delete(invoice_id)
    wait_for(lambda: xero_invoice(scenario, details.xero_invoice_id)["Status"] == "VOIDED")


def test_b1_badly_signed_webhook_is_refused_and_changes_nothing(scenario: Scenario) -> None:
    invoice_id, details = synced_invoice(scenario)
    event = {
        "resourceUrl": "x",
        "resourceId": details.xero_invoice_id,
        "eventDateUtc": "2026-11-21T01:15:39.902",
        "eventType": "UPDATE",
        "eventCategory": "INVOICE",
        "tenantId": scenario.tenant_id,
        "tenantType": "ORGANISATION",
    }
    body = json.dumps({"events": [event], "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "x"})
    response = httpx.post(
        f"{scenario.platform.host_url}/api/xero/webhook",
        content=body,
        headers={"x-xero-signature": "bm9wZQ=="},
    )
    assert (response.status_code, response.content) == (401, b"")
    assert xero_details(invoice_id) == details


def test_b4_reconcile_catches_a_lost_webhook(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    invoice_id, details = synced_invoice(scenario)
    assert details.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, details.xero_invoice_id)
    wait_for(lambda: (d := xero_details(invoice_id)) and d.xero_status == "AUTHORISED")
    # Lose the next webhook: unsubscribed, the emulator sends nothing, as if Xero's retries had run out.
    xero.control.delete("/webhooks").raise_for_status()
    xero.pay(scenario.tenant_id, details.xero_invoice_id)
    time.sleep(1)
    assert invoice_state(invoice_id) == (0, 1)
    sweep = httpx.post(
        f"{scenario.platform.host_url}/admin/functions/sweep_timer",
        json={},
        headers={"x-functions-key": "local-master-key"},
    )
    assert sweep.status_code == 202
    wait_for(lambda: invoice_state(invoice_id) == PAID)


def approved_and_seen(scenario: Scenario) -> tuple[str, XeroDetails]:
    xero = scenario.platform.xero
    assert xero is not None
    invoice_id, details = synced_invoice(scenario)
    assert details.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, details.xero_invoice_id)
    wait_for(lambda: (d := xero_details(invoice_id)) and d.xero_status == "AUTHORISED")
    return invoice_id, details


def test_x1_cancel_of_a_paid_invoice_changes_nothing_in_xero(scenario: Scenario) -> None:
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None
    invoice_id, details = approved_and_seen(scenario)
    assert details.xero_invoice_id is not None
    xero.pay(scenario.tenant_id, details.xero_invoice_id)
    wait_for(lambda: invoice_state(invoice_id) == PAID)
    # Paid invoices are read-only in Dynamics: cancelling one is reactivate-then-cancel in real life;
    # the emulator's Sales UI lets the cancel through, and the connector must leave Xero alone.
    dataverse.ui_cancel(invoice_id)
    wait_for(lambda: "The Invoice is fully paid in Xero" in " ".join(sync_history(invoice_id)))
    assert credit_notes(scenario) == []
    assert xero_invoice(scenario, details.xero_invoice_id)["Status"] == "PAID"


def test_x1_cancel_of_a_part_paid_invoice_makes_an_unallocated_credit_note(scenario: Scenario) -> None:
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None
    invoice_id, details = approved_and_seen(scenario)
    assert details.xero_invoice_id is not None
    xero.pay(scenario.tenant_id, details.xero_invoice_id, "40.00")
    wait_for(lambda: (d := xero_details(invoice_id)) and d.amount_paid == Decimal("40.00"))
    dataverse.ui_cancel(invoice_id)
    wait_for(lambda: (d := xero_details(invoice_id)) and d.credit_note_id)
    time.sleep(1)  # both cancel messages (Update and SetStateDynamicEntity) have been handled
    [note] = credit_notes(scenario)
    assert Decimal(str(note["RemainingCredit"])) == Decimal(str(note["Total"])) == Decimal("115.00")
    assert xero_invoice(scenario, details.xero_invoice_id)["AmountDue"] == Decimal("75.00")
    assert any("allocate" in line.lower() for line in sync_history(invoice_id))


@pytest.mark.connection(create_credit_note_on_cancel=False)
def test_x1_cancel_with_the_setting_off_leaves_xero_alone(scenario: Scenario) -> None:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    invoice_id, details = approved_and_seen(scenario)
    assert details.xero_invoice_id is not None
    dataverse.ui_cancel(invoice_id)
    wait_for(lambda: any("credit note" in line.lower() for line in sync_history(invoice_id)))
    assert credit_notes(scenario) == []
    assert xero_invoice(scenario, details.xero_invoice_id)["Status"] == "AUTHORISED"


def test_x2_delete_of_a_draft_deletes_it_in_xero(scenario: Scenario) -> None:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    invoice_id, details = synced_invoice(scenario)
    assert details.xero_invoice_id is not None
    dataverse.ui_delete(invoice_id)
    wait_for(lambda: xero_invoice(scenario, details.xero_invoice_id)["Status"] == "DELETED")


def test_x2_delete_of_a_paid_invoice_needs_attention_and_changes_nothing(
    scenario: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None
    invoice_id, details = approved_and_seen(scenario)
    assert details.xero_invoice_id is not None
    xero.pay(scenario.tenant_id, details.xero_invoice_id, "40.00")
    wait_for(lambda: (d := xero_details(invoice_id)) and d.amount_paid == Decimal("40.00"))
    dataverse.ui_delete(invoice_id)
    wait_for(lambda: "invoice_delete_needs_attention" in caplog.text)
    assert xero_invoice(scenario, details.xero_invoice_id)["Status"] == "AUTHORISED"
