"""Child process of the SIGKILL test: submits one work order and waits to be killed.

Usage: python outbox_child.py DATABASE_URL OMS_URL CALL_SID KEY
"""

from __future__ import annotations

import asyncio
import sys

from voice_agent.oms.client import OmsClient
from voice_agent.oms.models import WorkOrderCreate
from voice_agent.store.outbox import WorkOrderOutbox


async def main(db_url: str, oms_url: str, call_sid: str, key: str) -> None:
    client = OmsClient(oms_url, timeout_s=30.0, retries=0)
    # A long inline deadline: the parent kills us while the delivery is in flight.
    outbox = WorkOrderOutbox(db_url, client, inline_timeout_s=1.5)
    req = WorkOrderCreate(call_sid=call_sid, order_id="735902", type="refund", reason="broken")
    receipt = await outbox.submit(req, key)
    print("RECEIPT", receipt, flush=True)
    await asyncio.sleep(60)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
