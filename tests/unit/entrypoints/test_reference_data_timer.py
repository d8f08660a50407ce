"""The reference-data timer (C4): its own schedule setting, daily by default, running the app's handler."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.functions.timer import TimerRequest

from connector.bootstrap import App, use_app
from connector.domain.messages import ReferenceDataSyncMessage
from connector.settings import Settings, get_settings
from tests.fakes.queues import FakeQueueSender
from tests.functions import app_functions, user_function


@pytest.fixture
def handled() -> Iterator[list[object]]:
    calls: list[object] = []

    async def handle(message: object) -> None:
        calls.append(message)

    use_app(
        App(settings=get_settings(), queues=FakeQueueSender(), handlers={ReferenceDataSyncMessage: handle})
    )
    yield calls
    use_app(None)


def test_c4_the_timer_has_its_own_daily_schedule_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    trigger = app_functions()["reference_data_timer"].get_trigger().get_dict_repr()
    assert trigger["schedule"] == "%REFERENCE_DATA_SCHEDULE%"
    monkeypatch.delenv("REFERENCE_DATA_SCHEDULE", raising=False)
    assert Settings().reference_data_schedule == "0 0 3 * * *"  # once a day
    monkeypatch.setenv("REFERENCE_DATA_SCHEDULE", "0 0 3 * *")
    with pytest.raises(ValueError, match="NCRONTAB needs 6 fields"):
        Settings()


async def test_c4_the_timer_syncs_every_connection(handled: list[object]) -> None:
    await user_function("reference_data_timer")(TimerRequest(past_due=False))
    [message] = handled
    assert isinstance(message, ReferenceDataSyncMessage) and message.connection_id is None


async def test_c4_without_a_handler_the_timer_does_nothing(caplog: pytest.LogCaptureFixture) -> None:
    use_app(App(settings=get_settings(), queues=FakeQueueSender(), handlers={}))
    try:
        await user_function("reference_data_timer")(TimerRequest(past_due=False))
    finally:
        use_app(None)
    assert "reference_data.not_configured" in caplog.text
