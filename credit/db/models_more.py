"""The tables of collections depth and credit control on orders, one module per feature
(imported by ``credit.db.models`` so every table is known at once)."""

from __future__ import annotations

from credit.db import models_cash as models_cash  # noqa: F401
from credit.db import models_contacts as models_contacts  # noqa: F401
from credit.db import models_dunning_items as models_dunning_items  # noqa: F401
from credit.db import models_dunning_profiles as models_dunning_profiles  # noqa: F401
from credit.db import models_groups as models_groups  # noqa: F401
from credit.db import models_order_control as models_order_control  # noqa: F401
from credit.db import models_plans as models_plans  # noqa: F401
from credit.db import models_team as models_team  # noqa: F401
