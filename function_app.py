"""The Functions entry point: validates settings, sets up telemetry, registers the blueprints."""

import azure.functions as func

from connector.entrypoints import admin, dataverse_webhook, health, queue_triggers, timers, xero_webhook
from connector.settings import get_settings
from connector.telemetry import configure_telemetry

# Settings fail at start-up, naming any missing or invalid one; telemetry learns the secrets to scrub.
configure_telemetry(get_settings())

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (dataverse_webhook.bp, xero_webhook.bp, health.bp, queue_triggers.bp, timers.bp, admin.bp):
    app.register_functions(blueprint)
