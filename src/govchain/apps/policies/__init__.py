"""Enterprise support policies (惠企政策精准推送, 免申即享): policies as rules, matched,
explained, and granted without an application."""
