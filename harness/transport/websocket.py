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
import inspect
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Final, cast

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import ConnectionClosed

from harness._json import JSONObject
from harness.errors import TransportError, UsageError
from harness.redaction import RedactionRules, redact_url
from harness.transport._js import UNSET
from harness.transport.attempt import ConnectAttempt
from harness.transport.link import Link
from harness.transport.options import (
    ApiKey,
    ConnectionState,
    CreateWebSocket,
    CreateWebSocketOptions,
    connect_arguments,
    connect_url,
    request_headers,
)
from harness.transport.protocol import Clock, RealtimeProtocol

__all__ = [
    "ConnectionState",
    "CreateWebSocketOptions",
    "OpenAIRealtimeWebSocket",
    "connect_arguments",
]

# What the transport's own messages are scrubbed with (a URL or an error it quotes).
_DEFAULT_RULES: Final = RedactionRules.default()


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
        self._attempt: ConnectAttempt | None = None
        self._pump_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def _link(self) -> Link | None:
        # The shell only ever attaches its own links.
        return cast("Link | None", self._connection)

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
        attempt = ConnectAttempt(
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
            attempt.end()

    def _release_attempt(self, attempt: ConnectAttempt) -> bool:
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
        attempt: ConnectAttempt,
        *,
        api_key: Any,
        model: str | None,
        url: str | None,
        call_id: str | None,
        initial_session_config: Mapping[str, Any] | None,
    ) -> None:
        try:
            self._model = model if model is not None else self._model
            key = await attempt.race(self._get_api_key(api_key))
            if self._attempt is not attempt:
                raise attempt.outcome()
            self._api_key = key
            self._url = connect_url(url, call_id, self._default_url, self._model)
            if url:
                self._default_url = url
            session_config = self._initial_session_config(initial_session_config)
            await self._setup_websocket(session_config, attempt)
            if self._attempt is not attempt or self._status != "connected":
                raise attempt.outcome()
            self.update_session_config(session_config)
            link = self._link
            if link is not None:
                await attempt.race(link.drained.wait())
            if self._attempt is not attempt or self._status != "connected":
                raise attempt.outcome()
        except BaseException as error:
            attempt.select_failure(error)
            if self._attempt is attempt:
                link = self._link
                self._release_attempt(attempt)
                try:
                    self._close_link(link)
                except Exception as cleanup_error:
                    self._report_error(cleanup_error)
            failure = attempt.outcome()
            if failure is error:
                raise
            raise failure from None

    async def _setup_websocket(self, session_config: JSONObject, attempt: ConnectAttempt) -> None:
        if self._link is not None or self._status != "disconnected":
            raise TransportError("WebSocket is already connected or connecting.")
        api_key = self._api_key
        if not api_key:
            raise UsageError("API key is not set. Please call `connect()` with an API key first.")
        if not isinstance(api_key, str):
            raise UsageError(f"the API key must be a string, got {type(api_key).__name__}")
        url = self._url or ""
        headers = request_headers(api_key)
        # reference: openaiRealtimeWebsocket.ts, #setupWebSocket. Under node
        # (useWebSocketProtocols is false) the key always goes in the headers, so
        # use_insecure_api_key changes nothing outside a browser.
        ws: ClientConnection
        if self._create_websocket is not None:
            options = CreateWebSocketOptions(url=url, api_key=api_key, headers=headers)
            ws = await attempt.race(self._create_websocket(options))
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
                ws = await attempt.race(self._open_default(url, headers))
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
        link = Link(ws, session_config.get("tracing", UNSET))
        self._attach(link)
        link.start_writer(self._report_error)
        link.reader = asyncio.get_running_loop().create_task(self._read_loop(link))
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
            self._release_attempt(attempt)
            attempt.cancel()
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
            await link.wait_closed()
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

    def _close_link(self, link: Link | None) -> None:
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

    async def _read_loop(self, link: Link) -> None:
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
