"""`python -m exchange classroom configs/games/NAME.toml [--run-dir DIR] [--admin-key KEY] ...`.

Starts the exchange (as `serve` does: recovery, feeds, the live population of `[population]`, the
msgpack gateway) with its HTTP layer on, then the game of the file's `[game]` table, and prints where
the pages are and every student's login. On the same run directory again, the game carries on where
it stopped (paused). `--export DIR` writes the results of the run directory's game (results.csv,
report.html) from its journals and exits.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...config import ExchangeConfig
from ...persistence import OVERRIDE_FLAG
from ..app import ExchangeService, ServeOptions, load_server_config, options_from, run_service
from ..logcfg import configure_logging
from .config import GameConfig, parse_game
from .game import Game
from .replay import replay_run
from .report import report_html, results_csv


def load_game(path: str | Path) -> tuple[ExchangeConfig, dict[str, Any], GameConfig]:
    config, raw = load_server_config(path)
    if "game" not in raw:
        raise ValueError(f"{path}: no [game] table (docs/classroom.md shows one)")
    game = parse_game(raw["game"], [i.symbol for i in config.instruments],
                      {i.symbol: i.max_leverage for i in config.instruments})
    feeds = raw.get("feeds", {})
    for symbol in game.symbols:
        if "price" not in feeds.get(symbol, {}):
            raise ValueError(f"{path}: the game trades {symbol}, which needs a [feeds.{symbol}] with a price")
    return config, raw, game


class ClassroomService(ExchangeService):
    """The exchange service with a game on its HTTP layer."""

    def __init__(self, config: ExchangeConfig, raw: dict[str, Any], run_dir: str | Path, options: ServeOptions,
                 game: GameConfig, config_dir: Path) -> None:
        super().__init__(config, raw, run_dir, replace(options, http=replace(options.http, enabled=True)), config_dir)
        self.game_config = game
        self.game: Game | None = None

    async def start(self) -> None:
        await super().start()
        assert self.http is not None
        api = self.http.api
        self.game = Game(self.game_config, self.config, api, self.run_dir, self.log)
        await self.game.start()
        api.game = self.game
        print(self.welcome(), flush=True)

    async def stop(self) -> None:
        if self.game is not None:
            assert self.http is not None
            self.http.api.game = None
            await self.game.stop()
        await super().stop()

    def welcome(self) -> str:
        """Where the pages are and each student's login (printed at start)."""
        assert self.game is not None
        game = self.game
        base = f"http://{self.options.http.host}:{self.http_port}/game"
        key = "the admin key you gave" if self.options.admin_key else f"admin key in {self.run_dir / 'admin.key'}"
        lines = [f"{game.cfg.name}: {len(game.roster)} students, {game.state}",
                 f"  students:  {base}/", f"  projector: {base}/projector",
                 f"  teacher:   {base}/teacher   ({key})"]
        if game.cfg.join_code:
            lines.append(f"  join code: {game.cfg.join_code}")
        width = max((len(s.name) for s in game.roster.students.values()), default=4)
        lines.append("")
        lines += [f"  {s.name:<{width}}  {s.team:<12}  {s.login or '(login in the logins file)'}"
                  for s in game.roster.students.values()]
        return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m exchange classroom", description="run a classroom trading game")
    p.add_argument("game", help="a game file: a server config with a [game] table (configs/games/*.toml)")
    p.add_argument("--run-dir", default=None, help="journals, keys and logins (default runs/classroom/GAME)")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None, help="msgpack gateway port (0 = any free port)")
    p.add_argument("--http-port", type=int, default=None, help="port of the pages and the REST/WebSocket API")
    p.add_argument("--speed", type=float, default=None, help="clock speed factor (2 = time runs twice as fast)")
    p.add_argument("--admin-key", default=None, help="the teacher's key (else $LIQUIDEX_ADMIN_KEY, config, RUN_DIR/admin.key)")
    p.add_argument("--log-level", default="warning")
    p.add_argument("--quiet", action="store_true", help="no log line per command")
    p.add_argument("--export", default=None, metavar="DIR",
                   help="write results.csv and report.html of the run directory's game into DIR, then exit")
    p.add_argument(OVERRIDE_FLAG, action="store_true", help="as for serve (docs/operations.md)")
    return p


def classroom_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    args.no_http = False
    args.no_agents = False
    configure_logging(args.log_level)
    try:
        config, raw, game = load_game(args.game)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir = Path(args.run_dir or Path("runs/classroom") / Path(args.game).stem)
    if args.export:
        out = Path(args.export)
        out.mkdir(parents=True, exist_ok=True)
        played = replay_run(config, game, run_dir)
        (out / "results.csv").write_text(results_csv(played))
        (out / "report.html").write_text(report_html(played))
        print(f"wrote {out / 'results.csv'} and {out / 'report.html'}")
        return 0
    return run_service(lambda: ClassroomService(config, raw, run_dir, options_from(raw, args), game,
                                                Path(args.game).resolve().parent))
