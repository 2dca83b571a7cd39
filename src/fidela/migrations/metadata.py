"""The complete schema: importing every context's models registers their tables on
``Base.metadata``. Alembic's autogenerate and the drift test compare against this."""

from __future__ import annotations

from sqlalchemy import MetaData

from fidela.access import models as access_models
from fidela.analytics import models as analytics_models
from fidela.analytics.churn import models as churn_models
from fidela.analytics.clv import models as clv_models
from fidela.analytics.objectives import models as objective_models
from fidela.analytics.recommend import models as recommendation_models
from fidela.commerce import models as commerce_models
from fidela.customer import models as customer_models
from fidela.engagement import models as engagement_models
from fidela.engagement.campaigns import models as campaign_models
from fidela.engagement.journeys import models as journey_models
from fidela.event import models as event_models
from fidela.ledger import models as ledger_models
from fidela.loyalty import models as loyalty_models
from fidela.loyalty.referral import models as referral_models
from fidela.platform.audit import models as audit_models
from fidela.platform.db import Base
from fidela.platform.idempotency import models as idempotency_models
from fidela.platform.outbox import models as outbox_models
from fidela.platform.revisions import models as revision_models
from fidela.reward import models as reward_models
from fidela.segment import models as segment_models
from fidela.tier import models as tier_models

MODEL_MODULES = (
    access_models,
    analytics_models,
    churn_models,
    clv_models,
    objective_models,
    recommendation_models,
    audit_models,
    campaign_models,
    commerce_models,
    customer_models,
    engagement_models,
    event_models,
    idempotency_models,
    journey_models,
    ledger_models,
    loyalty_models,
    outbox_models,
    referral_models,
    revision_models,
    reward_models,
    segment_models,
    tier_models,
)

metadata: MetaData = Base.metadata
