"""The Sales users: new customers, then invoices (sales and bills, catalogue and write-in lines)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from devstack.chaos.config import ChaosConfig
from devstack.scenario import Scenario

GST = Decimal("0.15")
PRODUCTS = {"WID-001": "10.00", "GAD-002": "25.50", "SRV-001": "120.00"}
WRITE_INS = ("Design work", "Travel", "Site visit", "Packaging materials")
EXISTING_CUSTOMERS = ("Contoso Ltd", "O'Brien & Sons")
SUPPLIER = "Fabrikam Inc"
PURCHASE = 100000001  # the connector's invoice type choice for a bill


@dataclass
class PlannedInvoice:
    index: int
    kind: str  # "sales" | "purchase"
    customer: str
    account_id: str
    new_customer: bool
    lines: list[dict[str, Any]]
    id: str = ""


@dataclass
class Workload:
    scenario: Scenario
    config: ChaosConfig
    rng: random.Random
    plans: list[PlannedInvoice] = field(default_factory=list)
    new_accounts: dict[str, str] = field(default_factory=dict)  # name → account id

    @property
    def created(self) -> list[PlannedInvoice]:
        return [plan for plan in self.plans if plan.id]

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.scenario.connection.time_zone)).date()

    def prepare(self) -> None:
        """New customers (before the faults start: a person's own saves are not under test), then a plan."""
        count = max(1, round(self.config.invoices * self.config.new_customer_share / 2))
        for number in range(count):
            name = f"Chaos Customer {self.config.seed}-{number + 1}"
            self.new_accounts[name] = self._create_account(name, f"CH-{self.config.seed}-{number + 1}")
        new_names = list(self.new_accounts)
        uses = {name: 0 for name in new_names}
        for index in range(self.config.invoices):
            roll = self.rng.random()
            if roll < self.config.purchase_share:
                kind, customer, new = "purchase", SUPPLIER, False
            elif roll < self.config.purchase_share + self.config.new_customer_share and new_names:
                kind, customer, new = "sales", self.rng.choice(new_names), True
                uses[customer] += 1
                if uses[customer] >= 2:  # a new customer has one or two invoices
                    new_names.remove(customer)
            else:
                kind, customer, new = "sales", self.rng.choice(EXISTING_CUSTOMERS), False
            account_id = self.new_accounts.get(customer) or self.scenario.account_id(customer)
            self.plans.append(PlannedInvoice(index, kind, customer, account_id, new, self._lines(kind)))

    def _create_account(self, name: str, number: str) -> str:
        dataverse = self.scenario.platform.dataverse
        assert dataverse is not None
        response = httpx.post(
            f"{dataverse.api_url}accounts",
            json={"name": name, "accountnumber": number, "emailaddress1": f"{number.lower()}@example.com"},
            headers={"Authorization": f"Bearer {dataverse.token}"},
            timeout=30,
        )
        response.raise_for_status()
        entity = response.headers["OData-EntityId"]
        return entity[entity.index("(") + 1 : entity.index(")")]

    def _lines(self, kind: str) -> list[dict[str, Any]]:
        lines = []
        for _ in range(self.rng.randint(1, 3)):
            quantity = Decimal(self.rng.randint(1, 5))
            if kind == "sales" and self.rng.random() < 0.7:
                product = self.rng.choice(list(PRODUCTS))
                price = Decimal(PRODUCTS[product])
                line: dict[str, Any] = {"product_number": product}
            else:
                price = Decimal(self.rng.randint(500, 50000)) / 100
                line = {"write_in": self.rng.choice(WRITE_INS)}
            tax = (quantity * price * GST).quantize(Decimal("0.01"))
            line.update(quantity=str(quantity), price=str(price), tax=str(tax))
            lines.append(line)
        return lines

    def create(self, plan: PlannedInvoice) -> None:
        """As a Sales user: the invoice, then each line, each its own save."""
        dataverse = self.scenario.platform.dataverse
        assert dataverse is not None
        body: dict[str, Any] = {
            "account_id": plan.account_id,
            "name": f"Chaos {self.config.seed}-{plan.index + 1}",
            "currency": "NZD",
            "date_delivered": self.today().isoformat(),
            "lines": plan.lines,
        }
        if plan.kind == "purchase":
            from connector.settings import get_settings

            body["columns"] = {f"{get_settings().dataverse_publisher_prefix}_invoicetype": PURCHASE}
        plan.id = str(dataverse.ui_create_invoice(**body)["id"])
