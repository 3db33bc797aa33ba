"""A peripheral's status detail (a driver's exception, a reader's reply) leaves through the kiosk API, alerts
and logs; a resident ID number quoted in it is masked wherever the status goes."""

from __future__ import annotations

from edge.kiosk.device import DeviceState, DeviceStatus
from edge.kiosk.health import condition
from edge.kiosk.service import status_json

RESIDENT_ID = "11010519491231002X"
MASKED = "1101**********002X"


def test_a_status_detail_quoting_an_id_number_is_masked_in_the_api_shape_and_the_alert_message() -> None:
    status = DeviceStatus("idcard", DeviceState.HARDWARE_ERROR, detail=f"reply for {RESIDENT_ID} garbled")
    assert status_json(status)["detail"] == f"reply for {MASKED} garbled"
    found = condition("idcard", status)
    assert found is not None
    assert RESIDENT_ID not in found.message and MASKED in found.message


def test_a_detail_without_personal_data_is_kept_as_it_is() -> None:
    status = DeviceStatus("printer", DeviceState.OFFLINE, detail="port /dev/ttyUSB0 silent for 5 s")
    assert status.detail == "port /dev/ttyUSB0 silent for 5 s"
