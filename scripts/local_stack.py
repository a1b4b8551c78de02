"""Run Cartwise locally without Docker: DynamoDB Local, a moto server, localstripe (a fake Stripe,
scripts/localstripe_server.py), provisioning, `chalice local` and, for `make run`, the orders-stream
handler fed from DynamoDB Local's stream (scripts/orders_stream.py), the hold sweeper
(scripts/sweeper.py), MailDev (an SMTP server with a web mailbox, npm `maildev`) and the notifier
fed from its queue (scripts/notifier.py), which sends the shoppers' e-mails to MailDev. Variables
given to `make run` (ORDER_HOLD_SECONDS, say) reach all of them, and STRIPE_API_BASE points them at
localstripe.

Used by `make run` (`python -m scripts.local_stack`) and by pytest fixtures (`LocalStack`, with free
ports). Every child runs in its own process group with its output in a log file, and is stopped
(SIGTERM, then SIGKILL after 5 s) when the stack stops.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType

from scripts.localstripe_server import stripe_js_url

REPO = Path(__file__).resolve().parent.parent
LOG_DIR = REPO / ".local" / "logs"
DYNAMODB_CACHE_DIR = REPO / ".local" / "dynamodb"
DYNAMODB_NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
DYNAMODB_JAR_SUBDIR = Path("node_modules", "amplify-dynamodb-simulator", "emulator")

HOST = "127.0.0.1"
REGION = "us-east-1"
STAGE = "dev"
DEFAULT_DYNAMODB_PORT = 8001
DEFAULT_AWS_PORT = 4566
DEFAULT_API_PORT = 8000
DEFAULT_STRIPE_PORT = 8420  # localstripe's own default
DEFAULT_SMTP_PORT = 1025  # MailDev's SMTP (MAIL_SMTP_URL)
DEFAULT_MAILBOX_PORT = 1080  # MailDev's web mailbox and REST API (GET /api/email)
MAILDEV = REPO / "node_modules" / ".bin" / "maildev"  # pinned in package-lock.json
STOP_TIMEOUT = 5.0

log = logging.getLogger(__name__)


class ChildProcess(subprocess.Popen[bytes]):
    """A child process in its own process group, writing stdout and stderr to a log file.

    Its own group means stopping it also stops anything it spawned, and Ctrl-C in the terminal
    reaches only us, so we decide the order of shutdown. The log file (not a pipe) means a chatty
    child can never block on a full pipe nobody reads.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str | os.PathLike[str]],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered so the log (and the tail in error messages) is current for Python children.
        child_env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log_file:
            super().__init__(
                args,
                cwd=cwd,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output_tail(self, lines: int = 30) -> str:
        """The last lines of the child's output, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate the process group, and kill it if it is still running after `timeout` seconds."""
        if self.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", self.name, timeout)
            os.killpg(self.pid, signal.SIGKILL)
            self.wait()
        except ProcessLookupError:
            self.wait()


def free_port() -> int:
    """A TCP port that is free on loopback right now, so parallel test runs don't collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Wait until something accepts TCP connections on host:port.

    Raises RuntimeError, with the tail of the process' output when it is a `ChildProcess`, if the
    process exits first or the time runs out, so a failed start explains itself.
    """
    deadline = time.monotonic() + timeout
    name = getattr(process, "name", "process")
    while True:
        if process is not None and process.poll() is not None:
            problem = f"{name} exited with code {process.returncode} before listening on {host}:{port}"
            break
        if _port_answers(host, port):
            return
        if time.monotonic() > deadline:
            problem = f"{name} not listening on {host}:{port} after {timeout:.0f} s"
            break
        time.sleep(0.1)
    if isinstance(process, ChildProcess):
        problem += f"\n--- last lines of {process.log_path} ---\n{process.output_tail()}"
    raise RuntimeError(problem)


def _start(
    name: str,
    args: Sequence[str | os.PathLike[str]],
    port: int,
    log_dir: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> ChildProcess:
    """Start a server and wait for its port; stop it again if it never comes up."""
    # Without this check a leftover server (say from an earlier `make run`) would answer on the
    # port and we would happily talk to it while our own child fails to bind.
    if _port_answers(HOST, port):
        raise RuntimeError(f"cannot start {name}: port {port} is already in use")
    process = ChildProcess(name, args, log_dir / f"{name}.log", cwd=cwd, env=env)
    try:
        wait_for_port(HOST, port, timeout, process)
    except BaseException:
        process.stop()
        raise
    return process


def ensure_dynamodb_local(cache_dir: Path = DYNAMODB_CACHE_DIR) -> Path | None:
    """The directory holding DynamoDBLocal.jar and DynamoDBLocal_lib, installing them if needed.

    AWS's jar comes from the npm package amplify-dynamodb-simulator because npm's registry is
    reachable where the AWS download site may not be. Returns None (and logs why) when Java is
    missing or the install fails, so the caller can fall back to moto.
    """
    if shutil.which("java") is None:
        log.warning("java is not on PATH, so DynamoDB Local cannot run")
        return None
    jar_dir = cache_dir / DYNAMODB_JAR_SUBDIR

    def installed() -> bool:
        return (jar_dir / "DynamoDBLocal.jar").is_file() and (jar_dir / "DynamoDBLocal_lib").is_dir()

    if installed():
        return jar_dir
    npm = shutil.which("npm")
    if npm is None:
        log.warning("DynamoDB Local is not installed in %s and npm is not on PATH to install it", cache_dir)
        return None
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Lock so that parallel test workers don't run npm into the same directory at once.
    with (cache_dir / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed():
            return jar_dir
        log.info("Installing DynamoDB Local (%s) into %s", DYNAMODB_NPM_PACKAGE, cache_dir)
        command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache_dir), DYNAMODB_NPM_PACKAGE]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            log.warning("npm install of %s timed out", DYNAMODB_NPM_PACKAGE)
            return None
        if result.returncode != 0 or not installed():
            output = (result.stdout + result.stderr).strip()
            log.warning("npm install of %s failed (exit %s):\n%s", DYNAMODB_NPM_PACKAGE, result.returncode, output)
            return None
    return jar_dir


def start_dynamodb_local(port: int, jar_dir: Path, *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start DynamoDB Local in memory on `port` and wait until it answers.

    AWS's own emulator implements transactions atomically, unlike moto. It binds all interfaces
    (it has no bind option). Telemetry is off: nothing here should phone home.
    """
    args = [
        "java",
        f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        "-jar",
        "DynamoDBLocal.jar",
        "-inMemory",
        "-sharedDb",  # one database whatever the caller's credentials and region, like one AWS account
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    return _start("dynamodb-local", args, port, log_dir, cwd=jar_dir)


def start_locked_moto(port: int, *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start a moto server that serialises every request, the DynamoDB fallback when Java is missing.

    Plain moto can oversell under concurrent transactions; see scripts/locked_moto_server.py.
    """
    args = [sys.executable, "-m", "scripts.locked_moto_server", "--host", HOST, "--port", str(port)]
    return _start("dynamodb-moto", args, port, log_dir, cwd=REPO)


def start_moto_server(port: int, *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start moto's own server on loopback for SSM, S3 and EventBridge, and wait until it answers."""
    args = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    return _start("moto", args, port, log_dir, cwd=REPO)


def start_localstripe(port: int, *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start localstripe on loopback with an empty store kept in `log_dir`, and wait until it answers."""
    store = log_dir / "localstripe.pickle"
    args = [sys.executable, "-m", "scripts.localstripe_server", "--port", str(port), "--store", str(store)]
    return _start("localstripe", args, port, log_dir, cwd=REPO)


def start_maildev(smtp_port: int, mailbox_port: int, *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start MailDev on loopback: SMTP on `smtp_port`, its mailbox (web and REST API) on `mailbox_port`."""
    args = [
        str(MAILDEV),
        "--smtp",
        str(smtp_port),
        "--web",
        str(mailbox_port),
        "--ip",
        HOST,
        "--web-ip",
        HOST,
    ]
    process = _start("maildev", args, mailbox_port, log_dir, cwd=REPO)
    try:
        wait_for_port(HOST, smtp_port, 30, process)
    except BaseException:
        process.stop()
        raise
    return process


def stack_env(dynamodb_url: str, aws_url: str) -> dict[str, str]:
    """The environment for the app and provisioning: the current one pointed at the local stack.

    botocore >= 1.31 reads the AWS_ENDPOINT_URL* variables, so app code has no endpoint settings.
    Every inherited AWS_* variable is dropped first: AWS_PROFILE, a service-specific
    AWS_ENDPOINT_URL_SSM or AWS_IGNORE_CONFIGURED_ENDPOINT_URLS would otherwise send requests to real
    AWS or elsewhere.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - the emulators' dummy credentials
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_url,
        AWS_ENDPOINT_URL=aws_url,
        CARTWISE_STAGE=STAGE,
    )
    return env


def start_chalice_local(
    port: int, env: Mapping[str, str], *, log_dir: Path = LOG_DIR, project_dir: Path = REPO
) -> ChildProcess:
    """Start `chalice local` for stage dev on loopback and wait until it answers.

    No autoreload: the reloader forks a second process and restarts under our feet.
    """
    chalice = str(Path(sys.executable).with_name("chalice"))
    args = [chalice, "local", "--no-autoreload", "--host", HOST, "--port", str(port), "--stage", STAGE]
    return _start("chalice", args, port, log_dir, cwd=project_dir, env=env)


def start_orders_stream(env: Mapping[str, str], *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start the orders-stream poller (Lambda's event source mapping, locally)."""
    return _start_worker("orders-stream", "scripts.orders_stream", "Reading arn:", env, log_dir)


def start_notifier(env: Mapping[str, str], *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start the notifier's queue poller (Lambda's SQS event source mapping, locally)."""
    return _start_worker("notifier", "scripts.notifier", "Draining arn:", env, log_dir)


def start_sweeper(env: Mapping[str, str], *, log_dir: Path = LOG_DIR) -> ChildProcess:
    """Start the hold sweeper (the cloud's every-minute schedule, locally every few seconds)."""
    return _start_worker("sweeper", "scripts.sweeper", "Sweeping lapsed holds", env, log_dir)


def _start_worker(
    name: str, module: str, ready: str, env: Mapping[str, str], log_dir: Path, *, timeout: float = 60.0
) -> ChildProcess:
    """A background worker listens on no port: it counts as started once it prints `ready` and still runs.

    Stopped again if it never gets there, or if anything (Ctrl-C) interrupts the wait: the stack
    only stops the children it was handed.
    """
    process = ChildProcess(name, [sys.executable, "-m", module], log_dir / f"{name}.log", cwd=REPO, env=env)
    deadline = time.monotonic() + timeout
    try:
        while ready not in process.output_tail():
            if process.poll() is not None or time.monotonic() > deadline:
                process.stop()
                raise RuntimeError(f"{name} did not start:\n{process.output_tail()}")
            time.sleep(0.1)
    except BaseException:
        process.stop()
        raise
    return process


class LocalStack:
    """The whole local stack as a context manager, for `make run` and for pytest fixtures.

    Starts DynamoDB Local (or, without Java, a locked moto server), a moto server for the other
    services, runs `scripts.provision --seed` and optionally `chalice local` and the orders-stream
    handler, the hold sweeper, MailDev and the notifier (`orders_stream`, on for `make run`; tests that
    hand records to the handlers themselves leave it off). With the API, localstripe too (unless `localstripe` is False:
    the caller runs one on `stripe_port` itself, as the test session does), and provisioning registers
    each stripe-mode tenant's webhook with it. Tests should pass free ports and their own `log_dir`.
    Stops every child on exit, also when starting fails halfway.
    """

    def __init__(
        self,
        *,
        dynamodb_port: int = DEFAULT_DYNAMODB_PORT,
        aws_port: int = DEFAULT_AWS_PORT,
        api_port: int = DEFAULT_API_PORT,
        stripe_port: int = DEFAULT_STRIPE_PORT,
        smtp_port: int = DEFAULT_SMTP_PORT,
        mailbox_port: int = DEFAULT_MAILBOX_PORT,
        api: bool = True,
        localstripe: bool = True,
        provision: bool = True,
        orders_stream: bool = False,
        client_limits: bool = True,
        log_dir: Path = LOG_DIR,
    ) -> None:
        self.dynamodb_port = dynamodb_port
        self.aws_port = aws_port
        self.api_port = api_port
        self.stripe_port = stripe_port
        self.api = api
        self.localstripe = localstripe
        self.provision = provision
        self.orders_stream = orders_stream
        self.log_dir = log_dir
        self.dynamodb_url = f"http://{HOST}:{dynamodb_port}"
        self.aws_url = f"http://{HOST}:{aws_port}"
        self.api_url: str | None = f"http://{HOST}:{api_port}" if api else None
        self.stripe_url = f"http://{HOST}:{stripe_port}"
        self.smtp_port = smtp_port
        self.mailbox_port = mailbox_port
        self.mailbox_url = f"http://{HOST}:{mailbox_port}"
        self.env = stack_env(self.dynamodb_url, self.aws_url)
        # The notifier sends to MailDev; its links open the storefront the stack publishes.
        self.env["MAIL_SMTP_URL"] = f"smtp://{HOST}:{smtp_port}"
        self.env["STOREFRONT_URL"] = f"{self.aws_url}/cartwise-{STAGE}-storefront"
        # The API, the workers and provisioning talk to localstripe instead of api.stripe.com.
        self.env["STRIPE_API_BASE"] = self.stripe_url
        # On, as in the cloud; off only for load and tests that drive many shoppers from 127.0.0.1.
        self.env["CLIENT_LIMITS"] = "on" if client_limits else "off"
        #: Why DynamoDB is served by moto instead of DynamoDB Local, or None when it is not.
        self.dynamodb_fallback_reason: str | None = None
        #: Combined stdout and stderr of the provisioning step (it prints the admin keys).
        self.provision_output = ""
        self.processes: list[ChildProcess] = []

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything; on any failure (or Ctrl-C) stop what was started and re-raise."""
        try:
            jar_dir = ensure_dynamodb_local()
            if jar_dir is not None:
                self.processes.append(start_dynamodb_local(self.dynamodb_port, jar_dir, log_dir=self.log_dir))
            else:
                self.dynamodb_fallback_reason = (
                    "java is not on PATH" if shutil.which("java") is None else "installing DynamoDB Local failed"
                )
                log.warning(
                    "DynamoDB Local is not used (%s): DynamoDB is served by moto instead, with every request "
                    "serialised by one lock because moto's transactions are not atomic under concurrency. "
                    "Expect it to be slower; install Java >= 11 to use DynamoDB Local.",
                    self.dynamodb_fallback_reason,
                )
                self.processes.append(start_locked_moto(self.dynamodb_port, log_dir=self.log_dir))
            self.processes.append(start_moto_server(self.aws_port, log_dir=self.log_dir))
            if self.api and self.localstripe:
                # Before provisioning, which registers the stripe-mode tenants' webhooks with it.
                self.processes.append(start_localstripe(self.stripe_port, log_dir=self.log_dir))
            if self.provision:
                self.provision_output = self._provision()
            if self.api:
                self.processes.append(start_chalice_local(self.api_port, self.env, log_dir=self.log_dir))
            if self.orders_stream:
                self.processes.append(start_orders_stream(self.env, log_dir=self.log_dir))
                self.processes.append(start_sweeper(self.env, log_dir=self.log_dir))
                self.processes.append(start_maildev(self.smtp_port, self.mailbox_port, log_dir=self.log_dir))
                self.processes.append(start_notifier(self.env, log_dir=self.log_dir))
        except BaseException:
            self.stop()
            raise

    def _provision(self) -> str:
        """Create tables and flags, seed the demo tenants and, with the API, publish the storefront and
        register the stripe-mode tenants' webhooks with localstripe."""
        command = [sys.executable, "-m", "scripts.provision", "--seed"]
        if self.api_url is not None:
            # The storefront's config.js points at the API, so it is only published with one.
            command += ["--api-url", self.api_url, "--stripe-js-url", stripe_js_url(self.stripe_url)]
            command += ["--localstripe-url", self.stripe_url]
        result = subprocess.run(
            command,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.log_dir / "provision.log").write_text(result.stdout)
        if result.returncode != 0:
            raise RuntimeError(f"provisioning failed with exit code {result.returncode}:\n{result.stdout}")
        return result.stdout

    def stop(self) -> None:
        """Stop the children in reverse order of starting; safe to call more than once."""
        while self.processes:
            self.processes.pop().stop()


def banner(stack: LocalStack) -> str:
    """What `make run` prints once the stack is up: where everything is, the admin keys, how to pay."""
    toggle = (
        f"AWS_ENDPOINT_URL={stack.aws_url} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
        f"AWS_DEFAULT_REGION={REGION} .venv/bin/aws ssm put-parameter "
        f"--name /cartwise/{STAGE}/flags/UPSELL_ENABLED --type String --value true --overwrite"
    )
    dynamodb_kind = "moto with a lock, see the warning above" if stack.dynamodb_fallback_reason else "DynamoDB Local"
    return f"""
Cartwise is running locally.

  API:         {stack.api_url}
  Storefront:  {stack.aws_url}/cartwise-{STAGE}-storefront/index.html?tenant=acme
  Console:     {stack.aws_url}/cartwise-{STAGE}-storefront/console/index.html?tenant=acme (admin key below)
  DynamoDB:    {stack.dynamodb_url} ({dynamodb_kind})
  Other AWS:   {stack.aws_url} (moto: SSM, S3, EventBridge)
  Stripe:      {stack.stripe_url} (localstripe: a fake Stripe API and Stripe.js, STRIPE_API_BASE)
  Orders stream: handled as Lambda would (order events, co-purchase counts)
  Hold sweeper: every 5 s (unpaid orders past ORDER_HOLD_SECONDS give their units back)
  Mailbox:     {stack.mailbox_url} (MailDev: the shoppers' e-mails; its REST API at /api/email)
  Notifier:    order events -> the mail queue (moto) -> e-mails over {stack.env["MAIL_SMTP_URL"]}
  Logs:        {LOG_DIR}

Provisioning said:
{stack.provision_output.rstrip()}

Pay by card in the shop of a tenant in stripe mode (localstripe's card form: the number without
spaces, any month, a two-digit year such as 30, any three-digit CVC):
  4242424242424242  pays
  4000000000000341  is declined
  4000002760003184  asks for 3-D Secure first (localstripe's dialog: complete or fail it)

Toggle the upsell flag:
  {toggle}

Press Ctrl-C to stop."""


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """`make run`: start the stack on the fixed ports, print how to use it, run until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # A shell that starts us in the background sets SIGINT to "ignore"; Ctrl-C must still stop us.
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    stack = LocalStack(orders_stream=True)
    try:
        print(f"Starting the local stack (logs in {LOG_DIR}) ...", flush=True)
        stack.start()
        print(banner(stack), flush=True)
        while True:
            dead = [process for process in stack.processes if process.poll() is not None]
            if dead:
                for process in dead:
                    print(
                        f"{process.name} exited with code {process.returncode}; see {process.log_path}:\n"
                        f"{process.output_tail()}",
                        file=sys.stderr,
                    )
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"Local stack failed: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
