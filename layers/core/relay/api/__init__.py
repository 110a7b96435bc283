"""The admin API (AdminFunction, `relay local serve`): Powertools' HTTP API resolver, bearer auth in front
of it, routers per resource, and the one place where domain errors become HTTP answers (`problems`)."""
