"""C5: create the connector's tables, columns and lookups through EntityDefinitions. Idempotent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import odata_string
from connector.adapters.dataverse.schema import Column, CustomTable, Lookup

CRM = "Microsoft.Dynamics.CRM."


def label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": f"{CRM}Label",
        "LocalizedLabels": [{"@odata.type": f"{CRM}LocalizedLabel", "Label": text, "LanguageCode": 1033}],
    }


_BOOLEAN_OPTIONS = {
    "TrueOption": {"Value": 1, "Label": label("Yes")},
    "FalseOption": {"Value": 0, "Label": label("No")},
    "OptionSetType": "Boolean",
}
# The metadata type and its type-specific properties, by column kind (strings and choices need the column).
_FIXED_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "bool": ("BooleanAttributeMetadata", {"DefaultValue": False, "OptionSet": _BOOLEAN_OPTIONS}),
    "int": ("IntegerAttributeMetadata", {"Format": "None", "MinValue": -2147483648, "MaxValue": 2147483647}),
    "decimal": (
        "DecimalAttributeMetadata",
        {"Precision": 4, "MinValue": -100000000000.0, "MaxValue": 100000000000.0},
    ),
    "date": ("DateTimeAttributeMetadata", {"Format": "DateOnly", "DateTimeBehavior": {"Value": "DateOnly"}}),
    "datetime": (
        "DateTimeAttributeMetadata",
        {"Format": "DateAndTime", "DateTimeBehavior": {"Value": "UserLocal"}},
    ),
}


def column_definition(column: Column) -> dict[str, Any]:
    """AttributeMetadata body for one column."""
    base: dict[str, Any] = {
        "SchemaName": column.schema_name,
        "DisplayName": label(column.label),
        "RequiredLevel": {
            "Value": "None",
            "CanBeChanged": True,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
    }
    kind = column.kind
    if kind in _FIXED_KINDS:
        metadata, extra = _FIXED_KINDS[kind]
        if kind == "bool" and column.default is not None:
            extra = {**extra, "DefaultValue": column.default}
        return {"@odata.type": f"{CRM}{metadata}", **base, **extra}
    if kind == "string":
        extra = {"MaxLength": column.max_length, "FormatName": {"Value": "Text"}}
        return {"@odata.type": f"{CRM}StringAttributeMetadata", **base, **extra}
    if kind == "memo":
        extra = {"MaxLength": column.max_length, "Format": "TextArea"}
        return {"@odata.type": f"{CRM}MemoAttributeMetadata", **base, **extra}
    choices = [{"Value": v, "Label": label(text)} for text, v in (column.choices or {}).items()]
    option_set = {"@odata.type": f"{CRM}OptionSetMetadata", "IsGlobal": False, "OptionSetType": "Picklist"}
    return {
        "@odata.type": f"{CRM}PicklistAttributeMetadata",
        **base,
        "OptionSet": {**option_set, "Options": choices},
    }


def table_definition(table: CustomTable) -> dict[str, Any]:
    primary = Column(table.primary_name.split("_", 1)[0] + "_Name", "string", "Name", max_length=300)
    primary_body = {**column_definition(primary), "IsPrimaryName": True}
    return {
        "@odata.type": f"{CRM}EntityMetadata",
        "SchemaName": table.schema_name,
        "EntitySetName": table.entity_set,
        "DisplayName": label(table.label),
        "DisplayCollectionName": label(table.plural_label),
        "Description": label(f"{table.label} (Xero connector)"),
        "OwnershipType": "OrganizationOwned",
        "HasActivities": False,
        "HasNotes": False,
        "IsActivity": False,
        "Attributes": [primary_body],
    }


def relationship_definition(lookup: Lookup) -> dict[str, Any]:
    return {
        "@odata.type": f"{CRM}OneToManyRelationshipMetadata",
        "SchemaName": lookup.relationship,
        "ReferencedEntity": lookup.referenced,
        "ReferencedAttribute": f"{lookup.referenced}id",
        "ReferencingEntity": lookup.referencing,
        "ReferencedEntityNavigationPropertyName": lookup.relationship,
        "ReferencingEntityNavigationPropertyName": lookup.schema_name,
        "CascadeConfiguration": {
            "Assign": "NoCascade",
            "Delete": lookup.cascade_delete,
            "Merge": "NoCascade",
            "Reparent": "NoCascade",
            "Share": "NoCascade",
            "Unshare": "NoCascade",
        },
        "Lookup": {
            "@odata.type": f"{CRM}LookupAttributeMetadata",
            "SchemaName": lookup.schema_name,
            "DisplayName": label(lookup.label),
        },
    }


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    published: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created)


class SchemaProvisioner:
    """Creates whatever is missing; never changes what exists (safe to re-run)."""

    def __init__(
        self, client: DataverseClient, solution: str, progress: Callable[[str], None] | None = None
    ) -> None:
        self.client = client
        self.schema = client.schema
        self.headers = {"MSCRM.SolutionUniqueName": solution}
        self.progress = progress or (lambda _message: None)
        self._columns: dict[str, set[str]] = {}

    async def _table_exists(self, logical_name: str) -> bool:
        params = {
            "$select": "LogicalName,EntitySetName",
            "$filter": f"LogicalName eq {odata_string(logical_name)}",
        }
        return bool((await self.client.get_json("EntityDefinitions", params))["value"])

    async def _columns_of(self, logical_name: str) -> set[str]:
        if logical_name not in self._columns:
            path = f"EntityDefinitions(LogicalName={odata_string(logical_name)})/Attributes"
            rows = (await self.client.get_json(path, {"$select": "LogicalName"}))["value"]
            self._columns[logical_name] = {row["LogicalName"] for row in rows}
        return self._columns[logical_name]

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        await self.client.transport.send("POST", path, json_body=body, headers=self.headers)

    async def _ensure_column(self, table: str, column: Column, report: ProvisionReport) -> None:
        name = f"{table}.{column.logical_name}"
        if column.logical_name in await self._columns_of(table):
            if column.kind == "bool" and column.default and await self._fix_default(table, column):
                report.created.append(f"{name} default")  # counts as a change: publish again
            else:
                report.existing.append(name)
            return
        await self._post(
            f"EntityDefinitions(LogicalName={odata_string(table)})/Attributes", column_definition(column)
        )
        self._columns[table].add(column.logical_name)
        report.created.append(name)
        self.progress(f"created column {name}")

    async def _fix_default(self, table: str, column: Column) -> bool:
        """Columns made before C3's defaults were carried: give them the spec's default (read, change,
        PUT back the whole definition, as Dataverse updates a column). True when it had to change."""
        path = (
            f"EntityDefinitions(LogicalName={odata_string(table)})/Attributes(LogicalName="
            f"{odata_string(column.logical_name)})/{CRM}BooleanAttributeMetadata"
        )
        current = await self.client.get_json(path)
        if current.get("DefaultValue") == column.default:
            return False
        definition = {k: v for k, v in current.items() if not k.startswith("@odata.") or k == "@odata.type"}
        definition["@odata.type"] = f"{CRM}BooleanAttributeMetadata"
        definition["DefaultValue"] = column.default
        headers = {**self.headers, "MSCRM.MergeLabels": "true"}
        await self.client.transport.send("PUT", path.rsplit("/", 1)[0], json_body=definition, headers=headers)
        self.progress(f"set the default of {table}.{column.logical_name} to {column.default}")
        return True

    async def run(self) -> ProvisionReport:
        report = ProvisionReport()
        for table in self.schema.tables:
            if await self._table_exists(table.logical_name):
                report.existing.append(table.logical_name)
            else:
                await self._post("EntityDefinitions", table_definition(table))
                report.created.append(table.logical_name)
                self.progress(f"created table {table.logical_name}")
            for column in table.columns:
                await self._ensure_column(table.logical_name, column, report)
        for table_name, columns in self.schema.standard_columns.items():
            for column in columns:
                await self._ensure_column(table_name, column, report)
        for lookup in self.schema.lookups:
            name = f"{lookup.referencing}.{lookup.logical_name}"
            if lookup.logical_name in await self._columns_of(lookup.referencing):
                report.existing.append(name)
                continue
            await self._post("RelationshipDefinitions", relationship_definition(lookup))
            self._columns[lookup.referencing].add(lookup.logical_name)
            report.created.append(name)
            self.progress(f"created lookup {name}")
        if report.changed:
            entities = "".join(
                f"<entity>{name}</entity>"
                for name in sorted(
                    {t.logical_name for t in self.schema.tables} | set(self.schema.standard_columns)
                )
            )
            xml = f"<importexportxml><entities>{entities}</entities></importexportxml>"
            await self._post("PublishXml", {"ParameterXml": xml})
            report.published = True
        return report
