// The cost table and its diff as Markdown: readable in a terminal, rendered in a pull request.
import { CostEstimate, CostLine, priceText } from "./estimate";
import { UsedPrice } from "./pricing";

export function money(n: number): string {
    const sign = n < 0 ? "-" : "";
    const abs = Math.abs(n);
    if (abs === 0) return "$0.00";
    const text = abs >= 0.01 ? abs.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : abs.toPrecision(2);
    return `${sign}$${text}`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|");
const amountOf = (l: CostLine) => (l.amount === null ? `unknown (${l.unknown})` : `${money(l.amount)}/${l.unit === "month" ? "month" : l.unit}`);

/** Where a price's figure was read: on its source page, in a third party's quote of it, or the stack. */
function figureOrigin(p: UsedPrice): string {
    if (p.readOn === undefined) return "set in the stack";
    return p.quotedBy === undefined ? "on the page" : `second-hand: quoted by ${p.quotedBy}`;
}

export function renderCost(e: CostEstimate): string {
    const out: string[] = [`## Cost of stack \`${e.stack}\` (${e.currency}, list prices, ${e.hoursPerMonth} h a month)`, ""];
    out.push("### Fixed: paid whatever the traffic", "", "| component | resource | item | per month | how |", "|---|---|---|---:|---|");
    for (const l of e.fixed) out.push(`| ${cell(l.component)} | ${cell(l.resource)} | ${l.item} | ${l.amount === null ? `unknown: ${cell(l.unknown ?? "")}` : money(l.amount)} | ${cell(l.how)} |`);
    const unknown = e.totals.fixedUnknown > 0 ? ` + ${e.totals.fixedUnknown} unknown` : "";
    out.push(`| **total** | | | **${money(e.totals.fixedMonthly)}**${unknown} | |`, "");
    out.push("### Per unit of use", "", "| component | resource | item | cost | how |", "|---|---|---|---:|---|");
    for (const l of e.perUnit) out.push(`| ${cell(l.component)} | ${cell(l.resource)} | ${l.item} | ${l.amount === null ? "unknown" : money(l.amount)} | ${cell(l.how)} |`);
    out.push("");
    if (e.notPriced.length > 0) {
        out.push("### Not priced", "");
        for (const n of e.notPriced) out.push(`- ${n.resource}: ${n.reason}`);
        out.push("");
    }
    out.push("### Prices used", "", "| id | price | source | read on | figure |", "|---|---:|---|---|---|");
    for (const p of Object.values(e.prices)) out.push(`| \`${p.id}\` | ${priceText(p)} | ${p.source} | ${p.readOn ?? ""} | ${cell(figureOrigin(p))} |`);
    const prices = Object.values(e.prices);
    const secondHand = prices.filter((p) => p.quotedBy !== undefined).length;
    if (secondHand > 0) out.push("", `Second-hand: ${secondHand} of ${prices.length} prices were read where a third party quotes the source page, not on the page itself; check them there before relying on them.`);
    out.push("", `Free tiers: ${e.freeTiers}`, "");
    return out.join("\n");
}

export interface CostChange {
    part: "fixed" | "per unit";
    resource: string;
    item: string;
    before?: CostLine;
    after?: CostLine;
    /** after − before, when both amounts are known (a missing line counts as zero). */
    change: number | null;
}

export interface CostDiff {
    base: string;
    head: string;
    changes: CostChange[];
    totals: { before: number; after: number; change: number; unknownBefore: number; unknownAfter: number };
}

/** Per resource and item, what changed between two estimates; unchanged lines are left out. */
export function diffCost(base: CostEstimate, head: CostEstimate): CostDiff {
    const changes: CostChange[] = [];
    for (const part of ["fixed", "perUnit"] as const) {
        const a = new Map(base[part].map((l) => [l.key, l]));
        const b = new Map(head[part].map((l) => [l.key, l]));
        for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
            const before = a.get(key);
            const after = b.get(key);
            if (before !== undefined && after !== undefined && before.amount === after.amount && before.how === after.how) continue;
            const x = before === undefined ? 0 : before.amount;
            const y = after === undefined ? 0 : after.amount;
            const line = (after ?? before)!;
            changes.push({ part: part === "fixed" ? "fixed" : "per unit", resource: line.resource, item: line.item, before, after, change: x === null || y === null ? null : Math.round((y - x) * 1e6) / 1e6 });
        }
    }
    return {
        base: base.stack,
        head: head.stack,
        changes,
        totals: {
            before: base.totals.fixedMonthly,
            after: head.totals.fixedMonthly,
            change: Math.round((head.totals.fixedMonthly - base.totals.fixedMonthly) * 1e6) / 1e6,
            unknownBefore: base.totals.fixedUnknown,
            unknownAfter: head.totals.fixedUnknown,
        },
    };
}

const signed = (n: number) => (n > 0 ? `+${money(n)}` : money(n));

export function renderCostDiff(d: CostDiff): string {
    // Comparing with another stack's plan (a fork against dev) is legitimate: then both are named.
    const sameStack = d.base === d.head;
    const out = [`## Cost change of stack \`${d.head}\` against ${sameStack ? "the base plan" : `the plan of stack \`${d.base}\``}`, ""];
    const t = d.totals;
    const unknown = t.unknownBefore + t.unknownAfter > 0 ? ` (unknown lines: ${t.unknownBefore} → ${t.unknownAfter})` : "";
    const of = (stack: string) => (sameStack ? "" : ` (stack \`${stack}\`)`);
    out.push(`Fixed monthly total: ${money(t.before)}${of(d.base)} → ${money(t.after)}${of(d.head)} (**${signed(t.change)}**)${unknown}`, "");
    if (d.changes.length === 0) {
        out.push("No cost line changed.", "");
        return out.join("\n");
    }
    out.push("| part | resource | item | before | after | change |", "|---|---|---|---:|---:|---:|");
    for (const c of d.changes) {
        const show = (l?: CostLine) => (l === undefined ? "—" : amountOf(l));
        out.push(`| ${c.part} | ${cell(c.resource)} | ${c.item} | ${cell(show(c.before))} | ${cell(show(c.after))} | ${c.change === null ? "unknown" : signed(c.change)} |`);
    }
    out.push("");
    return out.join("\n");
}
