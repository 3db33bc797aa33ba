"""Payment driver against the terminal simulator over a real pty: never charge twice, through every fault."""

import asyncio
from dataclasses import replace

import pytest

from devices.simulators.kiosk.payment import PaymentTerminalSim
from edge.kiosk.device import Completion, DeviceState, Result
from edge.kiosk.payment.driver import PaymentTerminal, SaleOutcome, Verdict


def outcome(res: Result[SaleOutcome]) -> SaleOutcome:
    assert res.value is not None, res
    return res.value


async def test_approved_sale_with_progress(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    op = payment.sale(2000, "K1-0001")
    events = [ev async for ev in op.events()]
    res = await op.result()
    assert res.completion is Completion.SUCCESS
    out = outcome(res)
    assert out.verdict is Verdict.APPROVED
    assert not out.recovered
    assert out.result is not None
    assert out.result.reference == "K1-0001"
    assert "stan 000001" in out.evidence
    assert [e.detail for e in events if e.name == "progress"] == ["INSERT OR TAP CARD", "ENTER PIN", "AUTHORISING"]
    assert len(payment_sim.sales) == 1


async def test_declined_sale(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("approve", False)
    res = await payment.sale(500, "K1-0002").result()
    assert res.completion is Completion.SUCCESS
    assert outcome(res).verdict is Verdict.DECLINED


async def test_reference_is_never_sent_twice(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    assert (await payment.sale(100, "K1-DUP").result()).ok
    again = await payment.sale(100, "K1-DUP").result()
    assert again.completion is Completion.USER_ERROR
    assert len(payment_sim.sales) == 1


async def test_duplicated_ack(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("duplicate_ack", True)
    assert outcome(await payment.sale(100, "K1-DA1").result()).verdict is Verdict.APPROVED
    assert outcome(await payment.sale(200, "K1-DA2").result()).verdict is Verdict.APPROVED
    last = await payment.get_last().result()
    assert last.value is not None
    assert last.value.reference == "K1-DA2"
    assert [s.reference for s in payment_sim.sales] == ["K1-DA1", "K1-DA2"]


async def test_nak_resends_sale_frame(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("nak_next", 1)  # the terminal rejected the first copy: resending is safe
    assert outcome(await payment.sale(100, "K1-NAK").result()).verdict is Verdict.APPROVED
    assert len(payment_sim.sales) == 1


async def test_all_naks_mean_not_charged(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("nak_next", 3)
    res = await payment.sale(100, "K1-NAK3").result()
    assert res.completion is Completion.DEVICE_NOT_READY
    assert outcome(res).verdict is Verdict.DECLINED
    assert payment_sim.sales == []


async def test_lost_ack_does_not_resend_sale(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("drop_ack_next", 1)
    op = payment.sale(100, "K1-NOACK")
    names = [ev.name async for ev in op.events()]
    out = outcome(await op.result())
    assert out.verdict is Verdict.APPROVED
    assert not out.recovered  # the result message itself was kept while waiting for the ACK
    assert "no_ack" in names
    assert len(payment_sim.sales) == 1


async def test_corrupted_result_is_naked_and_resent(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("checksum_errors", 1)
    assert outcome(await payment.sale(100, "K1-LRC").result()).verdict is Verdict.APPROVED
    assert len(payment_sim.sales) == 1


@pytest.mark.parametrize(("fault", "value"), [("garbage", 16), ("split", True)])
async def test_line_faults(
    payment: PaymentTerminal, payment_sim: PaymentTerminalSim, fault: str, value: object
) -> None:
    payment_sim.set_fault(fault, value)
    assert outcome(await payment.sale(100, f"K1-{fault}").result()).verdict is Verdict.APPROVED


async def test_reboot_after_approval_is_recovered_as_approved(
    payment: PaymentTerminal, payment_sim: PaymentTerminalSim
) -> None:
    payment_sim.set_fault("reboot_mid_sale", "after")
    op = payment.sale(3000, "K1-RB-A")
    names = [ev.name async for ev in op.events()]
    res = await op.result()
    assert res.completion is Completion.HARDWARE_ERROR
    out = outcome(res)
    assert out.verdict is Verdict.APPROVED
    assert out.recovered
    assert "last-transaction query" in out.evidence
    assert "recovering" in names
    assert len(payment_sim.sales) == 1  # asked with G, never re-sent


async def test_reboot_before_approval_is_unknown_not_resent(
    payment: PaymentTerminal, payment_sim: PaymentTerminalSim
) -> None:
    payment_sim.set_fault("reboot_mid_sale", "before")
    res = await payment.sale(3000, "K1-RB-B").result()
    out = outcome(res)
    # A reconnect alone cannot prove the sale died: report unknown with the evidence.
    assert out.verdict is Verdict.UNKNOWN
    assert "not ours" in out.evidence
    assert len(payment_sim.sales) == 1
    later = await payment.verify("K1-RB-B", 3000).result()
    assert outcome(later).verdict is Verdict.DECLINED  # after the sale window: proof of no charge
    assert len(payment_sim.sales) == 1


async def test_host_slower_than_timeout_then_verified(
    payment: PaymentTerminal, payment_sim: PaymentTerminalSim
) -> None:
    # Longer than the sale timeout plus the query: the terminal is still busy when asked.
    delay = payment.options.sale_timeout + payment.options.query_timeout + 1.0
    payment_sim.set_fault("host_delay", delay)
    payment.options = replace(payment.options, tries=1)
    res = await payment.sale(700, "K1-SLOW").result()
    assert res.completion is Completion.TIMEOUT
    assert outcome(res).verdict is Verdict.UNKNOWN  # G refused while busy: no proof either way
    assert "query failed" in outcome(res).evidence
    async with asyncio.timeout(30):  # until the simulated host has finished authorising
        while payment_sim.busy:
            await asyncio.sleep(0.02)
    later = await payment.verify("K1-SLOW", 700).result()
    assert outcome(later).verdict is Verdict.APPROVED
    assert len(payment_sim.sales) == 1


async def test_unplug_mid_sale(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("host_delay", 0.3)
    op = payment.sale(900, "K1-UNPLUG")
    await asyncio.sleep(0.1)
    payment_sim.set_fault("unplug")
    await asyncio.sleep(0.1)
    payment_sim.set_fault("replug")
    res = await op.result()
    assert res.completion is Completion.HARDWARE_ERROR
    out = outcome(res)
    # The terminal finished while the cable was out; the G query finds it approved.
    assert out.verdict is Verdict.APPROVED, out.evidence
    assert len(payment_sim.sales) == 1


async def test_silent_terminal(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment.options = replace(payment.options, ack_timeout=0.1, sale_timeout=0.2, query_timeout=0.1, tries=1)
    payment_sim.set_fault("silent", True)
    await payment.wait_status(lambda s: s.device is DeviceState.OFFLINE, 30)
    res = await payment.sale(100, "K1-SILENT").result()
    assert outcome(res).verdict is Verdict.UNKNOWN
    assert len(payment_sim.sales) == 1  # it heard the sale, but no answer got out


async def test_cancel_before_send_and_refused_after(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    payment_sim.set_fault("host_delay", 0.3)
    first = payment.sale(100, "K1-C1")
    second = payment.sale(100, "K1-C2")  # queued behind the first
    async with asyncio.timeout(30):  # until the terminal has heard the first sale: it is sent
        while not payment_sim.sales:
            await asyncio.sleep(0.01)
    assert second.cancel()
    assert not first.cancel()  # already sent: a cancel cannot undo a charge
    assert (await second.result()).completion is Completion.CANCELED
    assert outcome(await first.result()).verdict is Verdict.APPROVED
    assert [s.reference for s in payment_sim.sales] == ["K1-C1"]


async def test_totals_and_reverse(payment: PaymentTerminal, payment_sim: PaymentTerminalSim) -> None:
    sale = outcome(await payment.sale(1234, "K1-T").result())
    totals = await payment.totals().result()
    assert totals.value is not None
    assert (totals.value.count, totals.value.total_cents) == (1, 1234)
    assert sale.result is not None
    rev = await payment.reverse_last(sale.result.stan).result()
    assert rev.ok
    totals = await payment.totals().result()
    assert totals.value is not None
    assert totals.value.count == 0
