"""The complete schema: importing every context's models registers their tables on
``Base.metadata``. Alembic's autogenerate and the drift test compare against this."""

from __future__ import annotations

from sqlalchemy import MetaData

from fidela.access import models as access_models
from fidela.commerce import models as commerce_models
from fidela.customer import models as customer_models
from fidela.event import models as event_models
from fidela.ledger import models as ledger_models
from fidela.platform.audit import models as audit_models
from fidela.platform.db import Base
from fidela.platform.idempotency import models as idempotency_models
from fidela.platform.outbox import models as outbox_models

MODEL_MODULES = (
    access_models,
    audit_models,
    commerce_models,
    customer_models,
    event_models,
    idempotency_models,
    ledger_models,
    outbox_models,
)

metadata: MetaData = Base.metadata
