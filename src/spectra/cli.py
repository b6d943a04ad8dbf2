"""The `spectra` command: serve, scheduler, demo, db, seed, client, import, agent, openapi, jobs."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from spectra.core.config import ConfigError, get_settings, reset_settings_cache

app = typer.Typer(help="Spectra: cost, carbon and capacity control plane for cloud fleets.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema: upgrade to the latest migration, or reset.", no_args_is_help=True)
client_app = typer.Typer(help="Tenants (clients): create, list, regenerate a token.", no_args_is_help=True)
jobs_app = typer.Typer(help="Periodic jobs: list them or run one now.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(client_app, name="client")
app.add_typer(jobs_app, name="jobs")


def _settings_or_exit() -> None:
    try:
        reset_settings_cache()
        get_settings()
    except ConfigError as exc:
        typer.echo(f"spectra: {exc}", err=True)
        raise typer.Exit(2) from None


def _prepare_database() -> None:
    from spectra.core import migrate
    from spectra.core.clock import ensure_clock_state

    migrate.upgrade()
    ensure_clock_state()


def _print_new_admin_token() -> None:
    from spectra.core.auth import ensure_admin_token
    from spectra.core.db import session_scope

    with session_scope() as session:
        token = ensure_admin_token(session)
    if token:
        typer.echo("=" * 72)
        typer.echo("Spectra generated an admin token. It is shown ONCE; only its hash is stored:")
        typer.echo(f"    {token}")
        typer.echo("Set SPECTRA_ADMIN_TOKEN to choose your own, or `spectra admin-token rotate` for a new one.")
        typer.echo("=" * 72)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default SPECTRA_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SPECTRA_PORT)")] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes; with more than one, run `spectra scheduler` beside them")
    ] = 1,
    scheduler: Annotated[bool, typer.Option(help="Run periodic jobs in this process (single worker)")] = True,
) -> None:
    """Upgrade the database, then serve the API and UI (and, with one worker, the job scheduler)."""
    import uvicorn

    from spectra.core.observability import configure_logging

    _settings_or_exit()
    settings = get_settings()
    configure_logging(settings.log_level)
    _prepare_database()
    _print_new_admin_token()
    run_jobs = scheduler and settings.run_scheduler and workers == 1
    os.environ["SPECTRA_RUN_SCHEDULER"] = "true" if run_jobs else "false"
    if workers > 1 and scheduler:
        typer.echo("several workers: periodic jobs are off here; run `spectra scheduler` as its own process")
    uvicorn.run(
        "spectra.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=3,
    )


@app.command("scheduler")
def run_scheduler() -> None:
    """Run the periodic jobs alone (one active scheduler is guaranteed by a database lease)."""
    from spectra import registry
    from spectra.core import jobs
    from spectra.core.observability import configure_logging

    _settings_or_exit()
    configure_logging(get_settings().log_level)
    _prepare_database()
    registry.load_models()
    registry.load_tasks()
    registry.run_startup_hooks()
    sched = jobs.JobScheduler()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sched.start()
    typer.echo(f"scheduler {jobs.RUNNER_ID} running {len(jobs.registered_jobs())} jobs; Ctrl-C stops")
    stop.wait()
    sched.shutdown()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration up to the latest."""
    _settings_or_exit()
    _prepare_database()
    typer.echo("database is at the latest migration")


@db_app.command("revision")
def db_revision(message: str) -> None:
    """Write a new migration from the models' changes (for developers)."""
    from spectra import registry
    from spectra.core import migrate

    registry.load_models()
    migrate.revision(message)


@db_app.command("reset")
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False) -> None:
    """Drop every table and migrate again from scratch (all data is lost)."""
    from spectra.core import migrate

    _settings_or_exit()
    if not yes:
        typer.confirm(f"Erase every table in {get_settings().database_url}?", abort=True)
    migrate.downgrade_all()
    migrate.upgrade()
    typer.echo("database reset")


@app.command()
def seed(
    reset: Annotated[bool, typer.Option("--reset", help="Wipe the data first, then seed again")] = False,
) -> None:
    """Seed an empty database with demo data (regions, clients, teams, fleet, history); --reset re-seeds."""
    from spectra.seed import seed_database

    _settings_or_exit()
    _prepare_database()
    summary = seed_database(reset=reset)
    typer.echo(json.dumps(summary, indent=2, default=str))


@client_app.command("create")
def client_create(
    name: str,
    email: Annotated[str | None, typer.Option(help="Contact e-mail")] = None,
    team: Annotated[list[str] | None, typer.Option("--team", help="A team to create (repeatable)")] = None,
) -> None:
    """Create a client; its token is printed once."""
    from spectra import registry
    from spectra.core.db import session_scope
    from spectra.fleet import service
    from spectra.fleet.schemas import ClientCreate

    _settings_or_exit()
    _prepare_database()
    registry.load_models()
    with session_scope() as session:
        client, token = service.create_client(session, ClientCreate(name=name, email=email, teams=team or []))
        client_id = client.id
    typer.echo(json.dumps({"id": client_id, "name": name, "token": token}, indent=2))


@client_app.command("list")
def client_list() -> None:
    """List clients (never their tokens)."""
    from spectra import registry
    from spectra.core.db import session_scope
    from spectra.fleet import service

    _settings_or_exit()
    registry.load_models()
    with session_scope(read_only=True) as session:
        for c in service.list_clients(session):
            typer.echo(f"{c.id}  {c.name:30}  {c.status:9}  token {c.token_prefix}…")


@client_app.command("regenerate-token")
def client_regenerate(client_id: str) -> None:
    """Give a client a new token (printed once); the old one stops working."""
    from spectra import registry
    from spectra.core.db import session_scope
    from spectra.fleet import service

    _settings_or_exit()
    registry.load_models()
    with session_scope() as session:
        _, token = service.regenerate_token(session, client_id)
    typer.echo(token)


@app.command("admin-token")
def admin_token(action: Annotated[str, typer.Argument(help="rotate")] = "rotate") -> None:
    """Rotate the stored admin token (printed once). Not used when SPECTRA_ADMIN_TOKEN is set."""
    from spectra.core.auth import rotate_admin_token
    from spectra.core.db import session_scope

    _settings_or_exit()
    if action != "rotate":
        raise typer.BadParameter("only `rotate` is supported")
    _prepare_database()
    with session_scope() as session:
        token = rotate_admin_token(session)
    typer.echo(token)


@jobs_app.command("list")
def jobs_list() -> None:
    """Registered periodic jobs and their intervals."""
    from spectra import registry
    from spectra.core import jobs

    _settings_or_exit()
    registry.load_tasks()
    for name, spec in sorted(jobs.registered_jobs().items()):
        typer.echo(f"{name:40} every {spec.interval()}  {spec.description}")


@jobs_app.command("run")
def jobs_run(name: str) -> None:
    """Run one job now and print its recorded run."""
    from spectra import registry
    from spectra.core import jobs

    _settings_or_exit()
    registry.load_models()
    registry.load_tasks()
    registry.run_startup_hooks()
    run = jobs.run_job(name, "manual")
    assert run is not None
    typer.echo(
        json.dumps(
            {"job": name, "status": run.status, "error": run.error, "result": run.result},
            default=str,
            indent=2,
        )
    )
    if run.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def openapi(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout")] = None,
) -> None:
    """Print the OpenAPI schema (the UI's API client is generated from it)."""
    from spectra.app import create_app

    os.environ.setdefault("SPECTRA_DATABASE_URL", "sqlite:///:memory:")
    _settings_or_exit()
    schema = json.dumps(create_app(run_scheduler=False).openapi(), indent=2, sort_keys=True) + "\n"
    if out:
        out.write_text(schema)
    else:
        sys.stdout.write(schema)


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    agents: Annotated[int, typer.Option(help="Simulated spot instances (one agent each)")] = 8,
    speed: Annotated[float, typer.Option(help="Simulated minutes per real second when the clock is created")] = 60,
) -> None:
    """Everything on the embedded default: SQLite file, simulated clock and fleet, seeded data, the UI.

    Each start prints fresh tokens for the admin and the demo clients (the old ones stop working), since only
    hashes are stored and the demo's simulated agents need a client token.
    """
    import time

    import uvicorn

    from spectra.core.observability import configure_logging

    os.environ.setdefault("SPECTRA_SIM_CLOCK_ENABLED", "true")
    os.environ.setdefault("SPECTRA_SIM_CLOCK_SPEED", str(speed))
    _settings_or_exit()
    settings = get_settings()
    configure_logging(settings.log_level)
    _prepare_database()
    from spectra.seed import demo_tokens, seed_database

    summary = seed_database(reset=False)
    if summary.get("seeded"):
        typer.echo("first boot: demo data seeded")
    tokens = demo_tokens(rotate_admin=settings.admin_token is None)
    typer.echo("=" * 72)
    typer.echo(f"Spectra demo on http://{settings.host}:{port or settings.port}  (sign in with a token below)")
    for name, token in tokens.items():
        typer.echo(f"  {name:18} {token}")
    typer.echo("=" * 72)
    os.environ["SPECTRA_RUN_SCHEDULER"] = "true"
    config = uvicorn.Config(
        "spectra.app:create_app",
        factory=True,
        host=settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.1)
    fleet = None
    if server.started and agents > 0:
        from spectra.sim.fleet import SimFleet, build_market

        clients = [t for name, t in tokens.items() if name != "admin"]
        from spectra.core.clock import clock

        # The market starts at the platform clock; frequent interruptions so a watcher sees fail-overs.
        market = build_market(
            clock.now(), days=365, prices=_demo_prices(settings.shared_data_dir), monthly_interruption=0.99
        )
        fleet = SimFleet(f"http://127.0.0.1:{config.port}", clients, market, Path("var/demo-agents"), agents)
        fleet.start()
        label = "synthetic prices (no price file found)" if market.synthetic else "replayed spot prices"
        typer.echo(f"simulated fleet: {agents} spot instances with agents, {label}")
    try:
        thread.join()
    except KeyboardInterrupt:
        server.should_exit = True
        thread.join(timeout=10)
    finally:
        if fleet is not None:
            fleet.shutdown()


def _demo_prices(shared: Path | None) -> Path | None:
    """A real price trace for the demo fleet when the public datasets are beside the repository."""
    root = shared or Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    folder = root / "aws_spot" / "spot_price_history"
    files = sorted(folder.glob("*.csv")) if folder.exists() else []
    return files[0] if files else None


agent_app = typer.Typer(help="The agent that runs on each instance (AWS or the simulated cloud).", no_args_is_help=True)
app.add_typer(agent_app, name="agent")


@agent_app.command("run")
def agent_run(
    server: Annotated[str, typer.Option(help="Spectra server URL, e.g. https://spectra.example.com")],
    token: Annotated[str, typer.Option(help="The client's API token", envvar="SPECTRA_AGENT_TOKEN")],
    cloud: Annotated[str, typer.Option(help="aws | sim")] = "aws",
    state: Annotated[Path, typer.Option(help="Local state file (agent id, outbox)")] = Path("var/agent-state.json"),
    imds: Annotated[str, typer.Option(help="Instance metadata service endpoint (aws)")] = "http://169.254.169.254",
    prices: Annotated[Path | None, typer.Option(help="sim: replay this describe-spot-price-history file")] = None,
    price_interval: Annotated[float, typer.Option(help="Seconds between price reports")] = 300.0,
    launch_template: Annotated[
        list[str] | None,
        typer.Option(help="aws: REGION=lt-…[:version] or REGION=ami-… used for launches there (repeatable)"),
    ] = None,
    launch_config: Annotated[
        Path | None, typer.Option(help='aws: JSON file {"launch_templates": {"<region>": "lt-…"}}')
    ] = None,
    instance_id: Annotated[
        str | None, typer.Option(help="aws: manage this instance from beside it (identity from EC2, not IMDS)")
    ] = None,
    region: Annotated[str | None, typer.Option(help="aws: the instance's region (with --instance-id)")] = None,
) -> None:
    """Register (or resume), heartbeat, report prices, execute commands, report interruption notices."""
    from datetime import UTC, datetime

    from spectra.agent.runner import Agent
    from spectra.agent.state import StateStore
    from spectra.agent.transport import ServerClient

    store = StateStore(state)
    client = ServerClient(server, token, store)
    if cloud == "aws":
        from spectra.agent.aws import AwsBackend, parse_launch_templates

        try:
            templates = parse_launch_templates(launch_template or [], launch_config)
            backend = AwsBackend(imds, region=region, launch_templates=templates, instance_id=instance_id)
        except (ValueError, OSError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        agent = Agent(client, backend, store)
    elif cloud == "sim":
        from spectra.agent.sim import SimBackend
        from spectra.sim.fleet import build_market

        market = build_market(datetime.now(UTC), prices=prices)
        instance = market.cloud.launch(market.pools[0], "spot", client_token=store.state.installation_id)
        sim_backend = SimBackend(market.cloud, instance.id)

        def follow(new_id: str) -> None:
            sim_backend.instance_id = new_id

        agent = Agent(client, sim_backend, store, on_switch=follow)
    else:
        raise typer.BadParameter("--cloud must be aws or sim")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # The loop runs beside the main thread, which handles the signals: a stop does not wait out a held beat.
    loop = threading.Thread(target=agent.run, args=(stop, price_interval), name="agent", daemon=True)
    loop.start()
    while loop.is_alive() and not stop.wait(1.0):
        pass
    agent.wait_stopped(loop)


@agent_app.command("fleet")
def agent_fleet(
    server: Annotated[str, typer.Option(help="Spectra server URL")],
    token: Annotated[list[str], typer.Option(help="Client token(s); agents are spread over them")],
    agents: Annotated[int, typer.Option(help="How many simulated instances, one agent each")] = 10,
    prices: Annotated[Path | None, typer.Option(help="Replay this describe-spot-price-history file")] = None,
    state_dir: Annotated[Path, typer.Option(help="Folder of the agents' state files")] = Path("var/sim-agents"),
) -> None:
    """Run a simulated fleet (many agents in one process) against a server; time follows its clock."""
    from datetime import UTC, datetime

    from spectra.sim.fleet import SimFleet, build_market

    market = build_market(datetime.now(UTC), prices=prices)
    fleet = SimFleet(server, token, market, state_dir, agents)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fleet.start()
    label = "synthetic prices" if market.synthetic else f"prices from {prices}"
    typer.echo(f"{agents} simulated agents running against {server} ({label}); Ctrl-C stops")
    stop.wait()
    fleet.shutdown()


import_app = typer.Typer(help="Import data files: instance types, carbon intensity, spot prices.", no_args_is_help=True)
app.add_typer(import_app, name="import")


def _register_domain_commands() -> None:
    """A domain's cli module either has register(app) or a Typer `app` whose commands join `spectra import`."""
    from spectra.registry import domain_modules

    for module in domain_modules("cli"):
        if hasattr(module, "register"):
            module.register(app)
        elif isinstance(getattr(module, "app", None), typer.Typer):
            import_app.registered_commands.extend(module.app.registered_commands)


_register_domain_commands()

if __name__ == "__main__":
    app()
