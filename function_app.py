"""The Functions entry point: validates settings, then registers the blueprints. Nothing else."""

import azure.functions as func

from connector.entrypoints import dataverse_webhook, health, queue_triggers, timers, xero_webhook
from connector.settings import get_settings

get_settings()  # fail at start-up, naming any missing or invalid setting

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (dataverse_webhook.bp, xero_webhook.bp, health.bp, queue_triggers.bp, timers.bp):
    app.register_functions(blueprint)
