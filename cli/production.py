"""What `MEDIAOPS_ENV=production` refuses before a worker or an API starts, each naming its setting.

A production process runs on a Temporal cluster over TLS and a PostgreSQL server of its own, with
keys an operator put in place, real platform accounts and no demo users: the embedded services,
the fakes and the demo logins exist for `make run` on a laptop. Each check here fails with every
problem at once, so an operator fixes the configuration in one pass.
"""

from activities.platforms.accounts import Accounts
from eventstore.db import Conn
from eventstore.users import active_demo_users
from mediaops.settings import Settings


def settings_problems(settings: Settings, accounts: Accounts | None, *, database: bool = True) -> list[str]:
    """The settings' own problems and the demo or fake accounts (none outside production);
    `database`: whether the process uses PostgreSQL (temporal-init does not)."""
    if settings.env != "production":
        return []
    problems = settings.production_problems(database=database)
    if accounts is not None:
        problems += [
            f"MEDIAOPS_ACCOUNTS_FILE: {found} (production talks to the platforms, never to the fakes)"
            for found in accounts.not_for_production()
        ]
    return problems


async def database_problems(settings: Settings, conn: Conn) -> list[str]:
    """The demo users that can still sign in: `make run` creates them, production must have none."""
    if settings.env != "production":
        return []
    return [
        f"demo user {user_id} can sign in: `mediaops users disable {user_id}` (production has no demo users)"
        for user_id in await active_demo_users(conn)
    ]
