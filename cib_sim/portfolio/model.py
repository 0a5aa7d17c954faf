"""A portfolio (a fund of bonds): validated pydantic model, YAML in, members resolved to scenarios.

A portfolio file names its **members** (bonds: a shipped scenario, a scenario file, an inline
scenario, or an INDIGO record built by :func:`cib_sim.deals.scenario_from_indigo`), each with a
start date and optional group tags (``place``, ``policy_area``); **top-up funds** (shared payers
paying a share of each member's outcome payments from one pot); **investor funds** (stakes in
members' tranches, with the fund's own management fee, hurdle and carry); and **correlation**
(common shocks by group). Errors name the field path, ``members[2].start: ...``, as a
:class:`PortfolioError` (an :class:`~cib_sim.errors.InputError`); the CLI prints them and exits 2.

Money is in the portfolio's ``currency`` (every member must use it). Dates are calendar dates;
each member's contract runs from its ``start`` (its scenario's own start when not given), and the
portfolio's calendar runs from the first member's start month, in periods of ``period``.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cib_sim.scenario import (
    MAX_MONEY,
    PERIODS_PER_YEAR,
    FieldErrors,
    Scenario,
    ScenarioError,
    check_shares,
    errors_from_validation,
    load_scenario,
    parse_scenario,
    parse_yaml,
    shipped_scenarios,
)

GROUPS = ("all", "place", "policy_area", "start_year")
"""What a correlation factor groups members by: one shock for all, or one per place, per policy
area or per year of start."""


class PortfolioError(ScenarioError):
    """A portfolio failed validation (or could not be read): ``errors`` lists ``(path, reason)``,
    ``source`` the file."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, arbitrary_types_allowed=True)


class Member(_Model):
    """One bond of the portfolio. Exactly one of ``scenario`` (a shipped scenario's name such as
    ``west_london_zone``, a YAML file's path relative to the portfolio file, an inline mapping or
    a :class:`~cib_sim.scenario.Scenario`) and ``indigo`` (an INDIGO project id)."""

    name: str | None = Field(None, min_length=1, description="Default: the scenario's name")
    scenario: Any = Field(None, description="Shipped scenario name, YAML path, inline mapping or Scenario")
    indigo: str | None = Field(None, min_length=1, description="INDIGO project id, e.g. INDIGO-POJ-0184")
    start: _dt.date | None = Field(None, ge=_dt.date(1900, 1, 1), le=_dt.date(2100, 12, 31),
                                   description="Start of the contract; default: the scenario's horizon.start")
    place: str | None = Field(None, min_length=1, description="Group tag for place shocks")
    policy_area: str | None = Field(None, min_length=1, description="Group tag for policy-area shocks")

    @field_validator("scenario", mode="before")
    @classmethod
    def _scenario(cls, v: Any) -> Any:
        if v is None or isinstance(v, (str, Scenario)):
            if isinstance(v, str) and not v.strip():
                raise ValueError("must name a shipped scenario or a file")
            return v
        if isinstance(v, dict):
            try:
                return parse_scenario(v)
            except ScenarioError as exc:
                raise FieldErrors(exc.errors) from None
        raise ValueError(f"must be a shipped scenario's name, a file, or a mapping (got {type(v).__name__})")

    @model_validator(mode="after")
    def _one_source(self) -> "Member":
        if (self.scenario is None) == (self.indigo is None):
            raise FieldErrors([("scenario", "give exactly one of scenario or indigo")])
        return self


class TopUpFund(_Model):
    """A shared payer: pays ``share`` (or ``shares[member]``) of each covered member's outcome
    payments, as they are paid, from a fixed ``pot``. The member's own commissioners pay the bond
    in full and the fund reimburses them (pro rata to what each paid), so what the pot cannot pay
    stays with them. ``when_exhausted``: ``stop`` (claims are paid in full in date order, members
    in listed order within a period; the first claim the pot cannot pay in full closes it, and
    what is left stays in the pot) or ``pro_rata`` (the period's claims that exceed what is left
    are all paid the same fraction of what they claim, which empties the pot)."""

    name: str = Field(min_length=1)
    pot: float = Field(gt=0, le=MAX_MONEY, description="Currency")
    share: float = Field(0.0, ge=0, le=1, description="Share of each member's outcome payments")
    shares: dict[str, float] = Field(default_factory=dict, description="Per member, overriding share")
    members: list[str] | None = Field(None, description="Members covered; default all")
    when_exhausted: Literal["stop", "pro_rata"] = "stop"

    @field_validator("shares")
    @classmethod
    def _check_shares(cls, shares: dict[str, float]) -> dict[str, float]:
        return check_shares(shares)

    @model_validator(mode="after")
    def _pays_something(self) -> "TopUpFund":
        if self.share <= 0 and not any(v > 0 for v in self.shares.values()):
            raise FieldErrors([("share", "a top-up fund must pay a share above 0 (share, or shares for named members)")])
        if self.members is not None:
            bad = [(f"shares.{n}", f"{n!r} is not among this fund's members ({', '.join(self.members)})")
                   for n in self.shares if n not in self.members]
            if bad:
                raise FieldErrors(bad)
        return self


class Stake(_Model):
    """A fund's ``share`` of one member's capital tranche: that share of every capital call and of
    everything the tranche receives."""

    member: str = Field(min_length=1)
    tranche: str = Field(min_length=1)
    share: float = Field(gt=0, le=1)


class InvestorFund(_Model):
    """A fund holding stakes in members' tranches for its own investors. Its investors pay the
    stakes' capital calls and a ``management_fee`` a year on committed capital (the stakes' share
    of their tranches' commitments) from the fund's first member's start while the fund holds
    stakes (on each path, up to the last period in which a stake is called or pays out), and for
    at most ``fee_years`` if given; or, with ``fee_basis: invested``, on the capital the stakes
    have out in each period (their calls so far, this period's included, less their income before
    this period; never below 0), within the same window. The stakes' income goes to the investors until they
    have their contributions back with ``hurdle`` a year (compounded by period); then, with a
    ``catch_up``, that share of income goes to the manager until it has ``carry`` of all the
    profit; of the rest, ``carry`` goes to the manager and the remainder to the investors.
    Distributed as received; carry once paid is not clawed back."""

    name: str = Field(min_length=1)
    stakes: list[Stake] = Field(min_length=1)
    management_fee: float = Field(0.0, ge=0, le=0.2, description="Per year, of committed (or invested) capital")
    fee_basis: Literal["committed", "invested"] = Field(
        "committed", description="committed: the stakes' commitments, from the first member's start while the fund "
        "holds stakes; invested: the capital the stakes have out (calls so far less income so far, not below 0)")
    fee_years: float | None = Field(None, gt=0, le=50)
    hurdle: float = Field(0.0, ge=0, le=1, description="Preferred return per year")
    carry: float = Field(0.0, ge=0, le=1, description="Manager's share of income above the hurdle")
    catch_up: float = Field(0.0, ge=0, le=1, description="Manager's share of income after the hurdle until it has carry of "
                            "all the profit (0: no catch-up; 1: full); above carry")

    @model_validator(mode="after")
    def _catch_up_above_carry(self) -> "InvestorFund":
        if self.catch_up and self.catch_up <= self.carry:
            raise FieldErrors([("catch_up", f"must be above carry ({self.carry:g}), or 0 for none")])
        return self


class Factor(_Model):
    """A common shock: one standard normal per path (per group value), with weight ``loading`` in
    each member it reaches (``by``: all members, or those sharing a place, a policy area or a start
    year). Two members share ``loading`` of variance for each factor whose group they share."""

    name: str | None = None
    by: Literal["all", "place", "policy_area", "start_year"] = "all"
    loading: float = Field(ge=0, le=1)


class Portfolio(_Model):
    """A fund of bonds: members, shared payers, shared investors and common shocks."""

    name: str = Field(min_length=1)
    description: str = ""
    currency: str = Field("GBP", min_length=3, max_length=3)
    period: Literal["month", "quarter", "year"] = "quarter"
    members: list[Member] = Field(min_length=1)
    top_ups: list[TopUpFund] = Field(default_factory=list)
    investors: list[InvestorFund] = Field(default_factory=list)
    correlation: list[Factor] = Field(default_factory=list)

    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.period]


# --------------------------------------------------------------------------------------------
# Resolution: members to scenarios, and the checks that need them


class ResolvedPortfolio:
    """A portfolio with its members' scenarios (each starting at the member's start) and names."""

    def __init__(self, spec: Portfolio, scenarios: list[Scenario], names: list[str]):
        self.spec = spec
        self.scenarios = scenarios
        self.names = names

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, d):
        self.__dict__.update(d)

    def tag(self, i: int, by: str) -> str | None:
        m = self.spec.members[i]
        if by == "all":
            return "all"
        if by == "start_year":
            return str(self.scenarios[i].horizon.start.year)
        return getattr(m, by)


def _find_scenario(name: str, base: Path | None) -> Scenario:
    shipped = shipped_scenarios()
    if name in shipped:
        return load_scenario(shipped[name])
    p = Path(name)
    # A relative path is relative to the portfolio file, never to wherever the command runs.
    c = p if p.is_absolute() or base is None else base / p
    if c.exists():
        return load_scenario(c)
    raise ScenarioError([("", f"no shipped scenario or file {name!r}" + (f" in {base}" if base is not None and not p.is_absolute() else "")
                          + f" (shipped: {', '.join(shipped)})")])


def _member_scenario(m: Member, base: Path | None) -> Scenario:
    if m.indigo is not None:
        from cib_sim.deals.builder import scenario_from_indigo

        try:
            return scenario_from_indigo(m.indigo)
        except KeyError:
            raise ScenarioError([("", f"no INDIGO project {m.indigo!r}")]) from None
        except ValueError as exc:
            raise ScenarioError([("", str(exc))]) from None
    if isinstance(m.scenario, Scenario):
        return m.scenario
    return _find_scenario(m.scenario, base)


def resolve(p: Portfolio, base: str | Path | None = None) -> ResolvedPortfolio:
    """The members' scenarios, and every check that needs them; :class:`PortfolioError` lists all
    problems found."""
    base = Path(base) if base is not None else None
    errs: list[tuple[str, str]] = []
    scenarios: list[Scenario | None] = []
    for i, m in enumerate(p.members):
        where = f"members[{i}]." + ("indigo" if m.indigo is not None else "scenario")
        try:
            s = _member_scenario(m, base)
        except ScenarioError as exc:
            lead = f"{exc.source}: " if exc.source else ""
            errs.extend((where, f"{lead}{path}: {msg}" if path else f"{lead}{msg}") for path, msg in exc.errors)
            scenarios.append(None)
            continue
        if m.start is not None:
            s = s.model_copy(update={"horizon": s.horizon.model_copy(update={"start": m.start})})
        if s.currency != p.currency:
            errs.append((f"members[{i}]", f"its currency {s.currency} is not the portfolio's {p.currency}"))
        scenarios.append(s)
    names = [m.name or (s.name if s is not None else f"member {i}") for i, (m, s) in enumerate(zip(p.members, scenarios))]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            errs.append((f"members[{i}].name", f"{n!r} is already the name of members[{seen[n]}]; give each member its own name"))
        seen.setdefault(n, i)
    known = set(names)

    for f, fund in enumerate(p.top_ups):
        for j, n in enumerate(fund.members or []):
            if n not in known:
                errs.append((f"top_ups[{f}].members[{j}]", f"no member {n!r}"))
        for n in fund.shares:
            if n not in known:
                errs.append((f"top_ups[{f}].shares.{n}", f"no member {n!r}"))
    for i, n in enumerate(names):
        total = sum(share_of(fund, n) for fund in p.top_ups)
        if total > 1 + 1e-12:
            errs.append((f"members[{i}]", f"top-up funds pay {total:g} of its outcome payments; at most 1"))
    held: dict[tuple[str, str], float] = {}
    for f, fund in enumerate(p.investors):
        for k, st in enumerate(fund.stakes):
            where = f"investors[{f}].stakes[{k}]"
            if st.member not in known:
                errs.append((f"{where}.member", f"no member {st.member!r}"))
                continue
            s = scenarios[names.index(st.member)]
            if s is None:
                continue
            capital = [t.name for t in s.capital_tranches]
            if st.tranche not in capital:
                errs.append((f"{where}.tranche", f"no capital tranche {st.tranche!r} in {st.member!r} (there are: {', '.join(capital)})"))
                continue
            key = (st.member, st.tranche)
            held[key] = held.get(key, 0.0) + st.share
            if held[key] > 1 + 1e-12:
                errs.append((f"{where}.share", f"stakes in {st.member!r} / {st.tranche!r} add up to {held[key]:g}; at most 1"))
    funds = [(f"top_ups[{f}].name", fund.name) for f, fund in enumerate(p.top_ups)]
    funds += [(f"investors[{f}].name", fund.name) for f, fund in enumerate(p.investors)]
    commissioners = {c.name: names[i] for i, s in enumerate(scenarios) if s is not None for c in s.commissioners}
    taken: dict[str, str] = {}
    for where, n in funds:
        if n in taken:
            errs.append((where, f"{n!r} is already the name of {taken[n]}; give each fund its own name"))
        elif n in commissioners:
            errs.append((where, f"{n!r} is a commissioner of {commissioners[n]!r}; give the fund another name"))
        taken.setdefault(n, where.rsplit(".", 1)[0])
    total_loading = sum(fac.loading for fac in p.correlation)
    if total_loading > 1 + 1e-12:
        errs.append(("correlation", f"the loadings add up to {total_loading:g}; at most 1 (a member's shared variance)"))
    if errs:
        raise PortfolioError(errs)
    return ResolvedPortfolio(p, [s for s in scenarios if s is not None], names)


def share_of(fund: TopUpFund, member: str) -> float:
    """The share of ``member``'s outcome payments ``fund`` pays (0 if it does not cover it)."""
    if fund.members is not None and member not in fund.members:
        return 0.0
    return fund.shares.get(member, fund.share)


def parse_portfolio(data: Any, base: str | Path | None = None) -> ResolvedPortfolio:
    """Validate a plain mapping into a resolved portfolio (``base``: the folder member files are
    relative to), raising :class:`PortfolioError`."""
    if data is None:
        raise PortfolioError([("", "the portfolio is empty")])
    if not isinstance(data, dict):
        raise PortfolioError([("", f"a portfolio must be a mapping of fields, not {type(data).__name__}")])
    try:
        spec = Portfolio.model_validate(data)
    except ValidationError as exc:
        raise PortfolioError(errors_from_validation(exc)) from None
    return resolve(spec, base)


def load_portfolio(path: str | Path) -> ResolvedPortfolio:
    """Read a portfolio file (YAML); errors name the file, the field path and the reason."""
    p = Path(path)
    if not p.exists():
        shipped = shipped_portfolios()
        if str(path) in shipped:
            p = shipped[str(path)]
        else:
            raise PortfolioError([("", "no such file")], source=str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PortfolioError([("", f"cannot read: {exc}")], source=str(p)) from None
    try:
        return parse_portfolio(parse_yaml(text), base=p.parent)
    except ScenarioError as exc:
        raise PortfolioError(exc.errors, source=str(p)) from None


def shipped_portfolios() -> dict[str, Path]:
    """Shipped portfolio files by stem (in ``cib_sim/data/scenarios/portfolios``)."""
    from cib_sim.scenario import library_folder

    return {q.stem: q for q in sorted((library_folder() / "portfolios").glob("*.yaml"))}


def as_resolved(p: Portfolio | ResolvedPortfolio | str | Path) -> ResolvedPortfolio:
    """A resolved portfolio from a portfolio, a resolved one or a file."""
    if isinstance(p, ResolvedPortfolio):
        return p
    if isinstance(p, Portfolio):
        return resolve(p)
    if isinstance(p, (str, Path)):
        return load_portfolio(p)
    raise TypeError(f"portfolio: must be a Portfolio, a resolved portfolio or a file, not {type(p).__name__}")
