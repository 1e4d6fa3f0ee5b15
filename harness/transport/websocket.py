"""The asyncio shell: the socket under :class:`~harness.transport.protocol.RealtimeProtocol`.

reference: openaiRealtimeWebsocket.ts. :class:`OpenAIRealtimeWebSocket` connects (the
API key callable, the handshake, the first ``session.update`` reaching the socket), runs
one writer and one reader task per connection, and closes within the connection's
``close_timeout``. Everything else is the protocol's: see the package's docstring for
the members, names and events.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias, cast

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import ConnectionClosed

from harness import _net
from harness._json import JSONObject
from harness.errors import TransportError, UsageError
from harness.redaction import RedactionRules, redact_url
from harness.transport._js import UNSET
from harness.transport.protocol import (
    Clock,
    Connection,
    RealtimeProtocol,
    WebSocketStatus,
)

__all__ = [
    "ConnectionState",
    "CreateWebSocketOptions",
    "OpenAIRealtimeWebSocket",
    "connect_arguments",
]


_REFERENCE_VERSION: Final = "0.20.0"


# What the transport's own messages are scrubbed with (a URL or an error it quotes).
_DEFAULT_RULES: Final = RedactionRules.default()


def _package_version() -> str:
    try:
        return importlib.metadata.version("realtime-harness")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        return "0.0.0"


_VERSION: Final = _package_version()
# reference: utils.ts, HEADERS: "User-Agent: Agents/JavaScript 0.20.0" and
# "X-OpenAI-Agents-SDK: openai-agents-sdk.0.20.0". We say who we are instead.
_USER_AGENT: Final = (
    f"realtime-harness/{_VERSION} (port of @openai/agents-realtime {_REFERENCE_VERSION})"
)
_SDK_HEADER: Final = f"realtime-harness.{_VERSION}"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """The status and, when there is one, the live WebSocket connection."""

    status: WebSocketStatus
    websocket: ClientConnection | None = None


@dataclass(frozen=True, slots=True)
class CreateWebSocketOptions:
    """What a ``create_websocket`` callable gets to open the connection with.

    Attributes:
        url: the URL to connect to.
        api_key: the API key (keep it out of logs).
        headers: the headers the default connection sends: ``Authorization``,
            ``User-Agent``, ``X-OpenAI-Agents-SDK``.
    """

    url: str
    api_key: str = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)


class _Link(Connection):
    """One live connection: the socket, its ordered send queue (``outbox``), its tasks."""

    __slots__ = ("closing", "drained", "finished", "reader", "wakeup", "writer", "ws")

    def __init__(self, ws: ClientConnection, tracing: Any = UNSET) -> None:
        super().__init__(tracing)
        self.ws = ws
        self.wakeup = asyncio.Event()
        # Set while nothing is left to send: the queue is empty, or the writer is gone.
        self.drained = asyncio.Event()
        self.drained.set()
        self.closing = False
        # The writer has exited: frames queued from now on can never be sent.
        self.finished = False
        self.reader: asyncio.Task[None] | None = None
        self.writer: asyncio.Task[None] | None = None

    def write(self, frame: bytes) -> None:
        if self.finished:
            # Like ws.send on a closed socket: the frame is dropped. Clearing `drained`
            # here would leave connect() and flush() waiting for a writer that is gone.
            return
        self.outbox.append(frame)
        self.drained.clear()
        self.wakeup.set()

    def finish(self) -> None:
        self.finished = True
        self.closing = True
        self.outbox.clear()
        self.drained.set()
        self.wakeup.set()

    def close(self) -> None:
        self.closing = True
        self.wakeup.set()


@dataclass(slots=True)
class _Attempt:
    previous_model: str
    previous_api_key: Any
    previous_url: str | None
    previous_default_url: str | None
    cancelled: asyncio.Future[None]
    failure: BaseException | None = None
    failure_selected: bool = False
    cancellation_error: TransportError = field(
        default_factory=lambda: TransportError(
            "WebSocket connection was closed before setup completed."
        )
    )


ApiKey: TypeAlias = "str | Callable[[], str | Awaitable[str]]"
CreateWebSocket: TypeAlias = Callable[[CreateWebSocketOptions], Awaitable[ClientConnection]]


def connect_arguments(headers: Mapping[str, str]) -> dict[str, Any]:
    """The keyword arguments the default connection passes to websockets' ``connect``.

    For a ``create_websocket`` that wants to open the connection as the transport does
    (the recorder's tap, the replay driver): pass ``options.headers``, then add your own
    (``create_connection=...``).
    """
    return {
        "additional_headers": {k: v for k, v in headers.items() if k != "User-Agent"},
        "user_agent_header": headers.get("User-Agent"),
        # The reference (node's ws) consults no proxy settings and takes frames up to
        # 100 MiB.
        "proxy": None,
        "max_size": 100 * 2**20,
        # websockets logs the Authorization header and the frames at DEBUG: scrubbed.
        "logger": _net.redacting_logger(_net.CLIENT_LOGGER),
    }


_DEFAULT_CLOSE_TIMEOUT: Final = 10.0


def _close_timeout(ws: ClientConnection) -> float:
    """The connection's ``close_timeout`` (websockets' default, 10 s, when it has none)."""
    timeout = getattr(ws, "close_timeout", None)
    return float(timeout) if isinstance(timeout, int | float) else _DEFAULT_CLOSE_TIMEOUT


def _abort(ws: ClientConnection) -> None:
    """Drop the TCP connection at once (what is left in its buffers is lost)."""
    transport = getattr(ws, "transport", None)
    if transport is not None:
        transport.abort()


async def _close_bounded(ws: ClientConnection) -> None:
    """Run the closing handshake for at most ``close_timeout``, then abort.

    ``ws.close()`` waits for the write buffer to drain before its own timeout starts: a
    peer that stopped reading would hold it (and ``aclose()``) forever.
    """
    try:
        async with asyncio.timeout(_close_timeout(ws)):
            await ws.close()
    except asyncio.CancelledError:
        _abort(ws)
        raise
    except Exception:  # TimeoutError, or the connection failing meanwhile
        _abort(ws)


# --------------------------------------------------------------------------- the transport


def _monotonic_ms() -> float:
    return time.monotonic() * 1000.0


class OpenAIRealtimeWebSocket(RealtimeProtocol):
    """The Realtime API over a WebSocket: the port of the Agents SDK transport.

    Args:
        url: the URL to connect to (default ``wss://api.openai.com/v1/realtime?model=...``).
        api_key: the API key, or a (sync or async) callable returning it.
        model: the model (default :data:`DEFAULT_OPENAI_REALTIME_MODEL`).
        use_insecure_api_key: accepted for parity. The reference only consults it in a
            browser; under node (like here) the key always goes in the
            ``Authorization`` header.
        create_websocket: an async callable ``(CreateWebSocketOptions) -> connection``
            returning an *open* ``websockets`` client connection, to replace the
            default ``websockets.asyncio.client.connect``.
        skip_open_event_listeners: accepted for parity: the connection
            ``create_websocket`` returns is already open, so it changes nothing here.
        clock: milliseconds now (default ``time.monotonic() * 1000``); interruption
            timing reads it (the reference reads ``Date.now()``).

    Everything that does not wait is :class:`~harness.transport.protocol.RealtimeProtocol`'s;
    this class adds the socket: connecting, a writer and a reader task, closing.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: ApiKey | None = None,
        model: str | None = None,
        use_insecure_api_key: bool = False,
        create_websocket: CreateWebSocket | None = None,
        skip_open_event_listeners: bool = False,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(model=model, clock=clock if clock is not None else _monotonic_ms)
        self._base_api_key: Any = api_key
        self._api_key: str | None = None
        self._url = url
        self._default_url = url
        self._use_insecure_api_key = use_insecure_api_key
        self._create_websocket = create_websocket
        self._skip_open_event_listeners = skip_open_event_listeners
        self._attempt: _Attempt | None = None
        self._pump_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def _link(self) -> _Link | None:
        # The shell only ever attaches its own links.
        return cast("_Link | None", self._connection)

    def open(self, initial_session_config: Mapping[str, Any] | None = None) -> None:
        """Not for a socket transport: ``await connect()`` opens the connection."""
        raise UsageError("OpenAIRealtimeWebSocket opens its connection in `await connect()`")

    @property
    def connection_state(self) -> ConnectionState:
        """The status and the live connection, if any."""
        return ConnectionState(self._status, self._link.ws if self._link is not None else None)

    # ------------------------------------------------------------------ tasks

    def _schedule_listener(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception as error:
                self._report_error(error)

        try:
            task = asyncio.get_running_loop().create_task(run())
        except RuntimeError:
            close = getattr(awaitable, "close", None)
            if callable(close):
                close()
            raise UsageError("an async listener needs a running event loop") from None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ connecting

    async def _get_api_key(self, api_key: Any) -> Any:
        key = api_key if api_key is not None else self._base_api_key
        if callable(key):
            key = key()
            if inspect.isawaitable(key):
                key = await key
        return key

    async def connect(
        self,
        *,
        api_key: ApiKey | None = None,
        model: str | None = None,
        url: str | None = None,
        call_id: str | None = None,
        initial_session_config: Mapping[str, Any] | None = None,
    ) -> None:
        """Open the connection and send the initial ``session.update``.

        Args:
            api_key: overrides the constructor's key (a string or a callable).
            model: the model to use from now on.
            url: the URL to connect to; it becomes the default for later connects.
            call_id: connect to an existing SIP call
                (``wss://api.openai.com/v1/realtime?call_id=...``) when no URL is given.
            initial_session_config: merged with the defaults into the first
                ``session.update`` (camelCase or snake_case keys).

        Raises:
            TransportError: already connected or connecting (``WebSocket is already
                connected or connecting.``), the handshake failed or the server closed
                the connection before it was ready, or :meth:`close` was called
                meanwhile. ``status`` is ``"disconnected"`` afterwards.
            UsageError: no API key (``API key is not set. Please call `connect()` with
                an API key first.``).
        """
        if self._attempt is not None or self._status != "disconnected":
            raise TransportError("WebSocket is already connected or connecting.")
        loop = asyncio.get_running_loop()
        attempt = _Attempt(
            previous_model=self._model,
            previous_api_key=self._api_key,
            previous_url=self._url,
            previous_default_url=self._default_url,
            cancelled=loop.create_future(),
        )
        self._attempt = attempt
        try:
            await self._prepare_connection(
                attempt,
                api_key=api_key,
                model=model,
                url=url,
                call_id=call_id,
                initial_session_config=initial_session_config,
            )
        finally:
            if self._attempt is attempt:
                self._attempt = None
            if not attempt.cancelled.done():
                attempt.cancelled.cancel()

    async def _race(self, attempt: _Attempt, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable`` unless :meth:`close` cancels the attempt first."""
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait({task, attempt.cancelled}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise self._connection_failure(attempt)

    def _connection_failure(self, attempt: _Attempt) -> BaseException:
        if attempt.failure_selected and attempt.failure is not None:
            return attempt.failure
        return attempt.cancellation_error

    def _select_failure(self, attempt: _Attempt, failure: BaseException) -> None:
        if not attempt.failure_selected:
            attempt.failure_selected = True
            attempt.failure = failure

    def _release_attempt(self, attempt: _Attempt) -> bool:
        if self._attempt is not attempt:
            return False
        self._model = attempt.previous_model
        self._api_key = attempt.previous_api_key
        self._url = attempt.previous_url
        self._default_url = attempt.previous_default_url
        self._attempt = None
        return True

    async def _prepare_connection(
        self,
        attempt: _Attempt,
        *,
        api_key: Any,
        model: str | None,
        url: str | None,
        call_id: str | None,
        initial_session_config: Mapping[str, Any] | None,
    ) -> None:
        try:
            self._model = model if model is not None else self._model
            key = await self._race(attempt, self._get_api_key(api_key))
            if self._attempt is not attempt:
                raise self._connection_failure(attempt)
            self._api_key = key
            if url:
                target = url
                self._default_url = url
            elif call_id:
                target = f"wss://api.openai.com/v1/realtime?call_id={call_id}"
            elif self._default_url:
                target = self._default_url
            else:
                target = f"wss://api.openai.com/v1/realtime?model={self._model}"
            self._url = target
            session_config = self._initial_session_config(initial_session_config)
            await self._setup_websocket(session_config, attempt)
            if self._attempt is not attempt or self._status != "connected":
                raise self._connection_failure(attempt)
            self.update_session_config(session_config)
            link = self._link
            if link is not None:
                await self._race(attempt, link.drained.wait())
            if self._attempt is not attempt or self._status != "connected":
                raise self._connection_failure(attempt)
        except BaseException as error:
            self._select_failure(attempt, error)
            if self._attempt is attempt:
                link = self._link
                self._release_attempt(attempt)
                try:
                    self._close_link(link)
                except Exception as cleanup_error:
                    self._report_error(cleanup_error)
            failure = self._connection_failure(attempt)
            if failure is error:
                raise
            raise failure from None

    def _headers(self, api_key: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": _USER_AGENT,
            "X-OpenAI-Agents-SDK": _SDK_HEADER,
        }

    async def _setup_websocket(self, session_config: JSONObject, attempt: _Attempt) -> None:
        if self._link is not None or self._status != "disconnected":
            raise TransportError("WebSocket is already connected or connecting.")
        api_key = self._api_key
        if not api_key:
            raise UsageError("API key is not set. Please call `connect()` with an API key first.")
        if not isinstance(api_key, str):
            raise UsageError(f"the API key must be a string, got {type(api_key).__name__}")
        url = self._url or ""
        headers = self._headers(api_key)
        # reference: openaiRealtimeWebsocket.ts, #setupWebSocket. Under node
        # (useWebSocketProtocols is false) the key always goes in the headers, so
        # use_insecure_api_key changes nothing outside a browser.
        ws: ClientConnection
        if self._create_websocket is not None:
            options = CreateWebSocketOptions(url=url, api_key=api_key, headers=headers)
            ws = await self._race(attempt, self._create_websocket(options))
            if self._attempt is not attempt:
                await ws.close()
                raise attempt.cancellation_error
            self._status = "connecting"
            self.emit("connection_change", "connecting")
        else:
            # The reference creates the socket synchronously and reports "connecting"
            # while the handshake runs.
            self._status = "connecting"
            self.emit("connection_change", "connecting")
            try:
                ws = await self._race(attempt, self._open_default(url, headers))
            except TransportError as error:
                if error is attempt.cancellation_error or self._attempt is not attempt:
                    raise
                # reference: the socket's "error" listener: fail connect(), report the
                # error, and close.
                self._release_attempt(attempt)
                self._report_error(error)
                self._status_disconnected_after_failed_handshake()
                raise
        if self._attempt is not attempt:
            with contextlib.suppress(Exception):
                await ws.close()
            raise attempt.cancellation_error
        link = _Link(ws, session_config.get("tracing", UNSET))
        self._attach(link)
        loop = asyncio.get_running_loop()
        link.writer = loop.create_task(self._write_loop(link))
        link.reader = loop.create_task(self._read_loop(link))
        self.emit("connection_change", "connected")
        if self._attempt is not attempt:
            raise attempt.cancellation_error
        self._on_open()
        if self._attempt is not attempt:
            raise attempt.cancellation_error

    async def _open_default(self, url: str, headers: Mapping[str, str]) -> ClientConnection:
        try:
            return await _ws_connect(url, **connect_arguments(headers))
        except Exception as exc:
            # websockets' messages can quote the URL (InvalidURI), query included.
            detail = _DEFAULT_RULES.redact_free_text(str(exc)).value
            raise TransportError(
                f"WebSocket connection to {redact_url(url, _DEFAULT_RULES)} failed: {detail}"
            ) from exc

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Close the connection (or cancel a :meth:`connect` in progress).

        ``status`` is ``"disconnected"`` when this returns; frames already queued are
        sent before the socket closes in the background (await :meth:`aclose` to wait
        for it).
        """
        attempt = self._attempt
        if attempt is not None:
            failure = self._connection_failure(attempt)
            self._release_attempt(attempt)
            self._select_failure(attempt, failure)
            if not attempt.cancelled.done():
                attempt.cancelled.set_result(None)
        link = self._link
        if link is None and self._status == "connecting":
            self._status_disconnected_after_failed_handshake()
            return
        self._close_link(link)

    async def aclose(self) -> None:
        """Close the connection and wait until the socket is closed and tasks are done."""
        link = self._link
        self.close()
        if link is not None:
            socket_tasks = {t for t in (link.writer, link.reader) if t is not None}
            if socket_tasks:
                # Queued frames get the connection's close_timeout to go out (a peer that
                # stopped reading never takes them); then the TCP connection is aborted.
                _, pending = await asyncio.wait(socket_tasks, timeout=_close_timeout(link.ws))
                if pending:
                    _abort(link.ws)
                    _, pending = await asyncio.wait(pending, timeout=_close_timeout(link.ws))
                for task in pending:  # pragma: no cover - an abort ends both tasks
                    task.cancel()
                if pending:  # pragma: no cover
                    await asyncio.wait(pending)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def flush(self) -> None:
        """Wait until every frame queued so far has been handed to the socket.

        The sending methods are sync and queue their frames in order; ``await flush()``
        is the point after which the server can have seen them all. Python-only: the
        reference's ``ws.send`` has no such wait. Returns at once when not connected.
        """
        link = self._link
        if link is not None:
            # The writer sets `drained` only with the queue empty; enqueue clears it.
            await link.drained.wait()

    async def __aenter__(self) -> OpenAIRealtimeWebSocket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _close_link(self, link: _Link | None) -> None:
        cleanup_error: BaseException | None = None
        try:
            self._transition_to_disconnected(link)
        except Exception as error:
            cleanup_error = error
        if link is not None:
            link.close()
        if cleanup_error is not None:
            raise cleanup_error

    # ------------------------------------------------------------------ socket tasks

    async def _write_loop(self, link: _Link) -> None:
        ws = link.ws
        queue = link.outbox
        try:
            while True:
                while queue:
                    await ws.send(queue.popleft(), text=True)
                link.drained.set()
                if link.closing:
                    break
                link.wakeup.clear()
                await link.wakeup.wait()
        except ConnectionClosed:
            pass
        except Exception as error:  # pragma: no cover - defensive
            self._report_error(error)
        finally:
            link.finish()
            await _close_bounded(ws)

    async def _read_loop(self, link: _Link) -> None:
        ws = link.ws
        try:
            while True:
                # decode=None: text frames come as str, so websockets checks their UTF-8
                # and closes with 1007 when it is invalid (as node's ws does); binary
                # frames come as bytes.
                message = await ws.recv()
                if self._connection is link:
                    self.receive_frame(message)
        except ConnectionClosed:
            pass
        finally:
            link.close()
            if self._link is link:
                try:
                    self._transition_to_disconnected(link)
                except Exception as error:
                    self._report_error(error)

    def _request_pump(self) -> None:
        # The reference's waiting promises resume on the next microtask: the loop's next
        # turn here (at once when there is no loop).
        if self._dispatching:
            self._pump_pending = True
            return
        if self._pump_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._sequencer.pump()
            return
        self._pump_scheduled = True
        loop.call_soon(self._run_scheduled_pump)

    def _run_scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self._sequencer.pump()
