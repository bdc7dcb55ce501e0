using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>
/// xapi's expression language for <c>get_all_where</c> / <c>get_all_records_where</c>
/// (ocaml/database/db_filter_lex.mll, db_filter_parse.mly, db_filter.ml):
/// <c>field "name__label"="x" and not (field "power_state"="Halted" or false)</c>.
/// Values are literals (<c>"…"</c>, no escapes) or <c>field "column"</c>; the only comparison is
/// string equality of the database's text form of a column. <c>not</c> binds loosest, <c>and</c>
/// and <c>or</c> share one left-associative level (the grammar's %right LNOT / %left LAND LOR).
/// </summary>
internal abstract record DbFilter
{
    /// <summary>The parser's failure as xapi reports it (menhir's Error in the wrapped xapi_database library).</summary>
    public const string ParseError = "Xapi_database__Db_filter_parse.MenhirBasics.Error";

    /// <summary>ocamllex's failure on a character no rule matches.</summary>
    public const string LexError = "Failure(\"lexing: empty token\")";

    /// <summary>
    /// Parses an expression; INVALID_VALUE [expr, exception] when it does not parse (exnHelper.ml
    /// maps Db_filter.Expression_error so).
    /// </summary>
    public static DbFilter Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            var parser = new Parser(text);
            var expr = parser.Chain();
            parser.Expect(TokenKind.Eof);
            return expr;
        }
        catch (FilterSyntaxException e)
        {
            throw new XapiException(XapiErrors.InvalidValue, text, e.Message);
        }
    }

    /// <summary>
    /// Evaluates the expression over one row, as db_filter.ml's eval_expr (and/or short-circuit, so
    /// an unknown column only fails when it is looked at: INTERNAL_ERROR ["missing field", column, ""]).
    /// </summary>
    public abstract bool Matches(XapiObject row);

    public sealed record True : DbFilter
    {
        public override bool Matches(XapiObject row) => true;
    }

    public sealed record False : DbFilter
    {
        public override bool Matches(XapiObject row) => false;
    }

    public sealed record Not(DbFilter Inner) : DbFilter
    {
        public override bool Matches(XapiObject row) => !Inner.Matches(row);
    }

    public sealed record And(DbFilter Left, DbFilter Right) : DbFilter
    {
        public override bool Matches(XapiObject row) => Left.Matches(row) && Right.Matches(row);
    }

    public sealed record Or(DbFilter Left, DbFilter Right) : DbFilter
    {
        public override bool Matches(XapiObject row) => Left.Matches(row) || Right.Matches(row);
    }

    public sealed record Eq(FilterValue Left, FilterValue Right) : DbFilter
    {
        public override bool Matches(XapiObject row) => string.Equals(Left.Text(row), Right.Text(row), StringComparison.Ordinal);
    }

    internal abstract record FilterValue
    {
        public abstract string Text(XapiObject row);
    }

    internal sealed record Literal(string Value) : FilterValue
    {
        public override string Text(XapiObject row) => Value;
    }

    internal sealed record Field(string Column) : FilterValue
    {
        public override string Text(XapiObject row)
        {
            if (Column == "_ref") return row.Ref; // db_names.ml: the row's reference
            if (!row.Class.FieldsByColumn.TryGetValue(Column, out var field))
                throw new XapiException(XapiErrors.InternalError, "missing field", Column, string.Empty);
            return Marshal(field.Type, row.Get(field.Name));
        }
    }

    /// <summary>
    /// A value as xapi's database holds it (gen_db_actions.ml dm_to_string, string_marshall_helper.ml):
    /// ints in decimal, floats as %0.18g, bools true/false, sets and maps as S-expressions
    /// (<c>('a' 'b')</c>, <c>(('k' 'v'))</c>).
    /// </summary>
    public static string Marshal(XapiType type, JsonNode? value)
    {
        ArgumentNullException.ThrowIfNull(type);
        switch (type.Kind)
        {
            case XapiTypeKind.Set:
            {
                var items = value is JsonArray array ? array.Select(i => Marshal(type.Element!, i)) : [];
                return SExpr(items.Select(Quote));
            }

            case XapiTypeKind.Map:
            {
                var pairs = value is JsonObject map
                    ? map.Select(p => SExpr([Quote(Marshal(type.Key!, JsonValue.Create(p.Key))), Quote(Marshal(type.Element!, p.Value))]))
                    : [];
                return SExpr(pairs);
            }

            case XapiTypeKind.Option:
                return SExpr(value is null ? [] : [Quote(Marshal(type.Element!, value))]);
            case XapiTypeKind.Float when value is JsonValue f && f.TryGetValue<double>(out var d):
                return FormatFloat(d);
            case XapiTypeKind.Bool when value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                return b.GetValue<bool>() ? "true" : "false";
            default:
                return value switch
                {
                    null => string.Empty,
                    JsonValue v when v.TryGetValue<string>(out var s) => s,
                    JsonValue v when v.TryGetValue<long>(out var l) => l.ToString(CultureInfo.InvariantCulture),
                    JsonValue v when v.TryGetValue<double>(out var n) => FormatFloat(n),
                    _ => value.ToJsonString(),
                };
        }
    }

    /// <summary>C's %0.18g: 18 significant digits, exponent form outside [1e-5, 1e18).</summary>
    internal static string FormatFloat(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        return value.ToString("G18", CultureInfo.InvariantCulture).Replace('E', 'e');
    }

    private static string SExpr(IEnumerable<string> items) => "(" + string.Join(' ', items) + ")";

    /// <summary>sExpr.ml: a string in single quotes, backslash and quote escaped.</summary>
    private static string Quote(string s)
    {
        var text = new StringBuilder(s.Length + 2).Append('\'');
        foreach (var c in s)
        {
            if (c is '\\' or '\'') text.Append('\\');
            text.Append(c);
        }

        return text.Append('\'').ToString();
    }

    private enum TokenKind
    {
        Eq,
        True,
        False,
        LParen,
        RParen,
        Field,
        And,
        Or,
        Not,
        Ident,
        Eof,
    }

    private sealed class FilterSyntaxException(string message) : Exception(message);

    /// <summary>A recursive-descent reading of db_filter_parse.mly, pulling tokens from the lexer as menhir does.</summary>
    private sealed class Parser(string text)
    {
        private static readonly (string Word, TokenKind Kind)[] Keywords =
        [
            ("true", TokenKind.True), ("false", TokenKind.False), ("field", TokenKind.Field),
            ("and", TokenKind.And), ("or", TokenKind.Or), ("not", TokenKind.Not),
        ];

        private int _position;
        private (TokenKind Kind, string Text)? _peeked;

        // chain := unary (("and" | "or") unary)*  — and/or at one level, left-associative
        public DbFilter Chain()
        {
            var left = Unary();
            while (Peek().Kind is TokenKind.And or TokenKind.Or)
            {
                var op = Next().Kind;
                var right = Unary();
                left = op == TokenKind.And ? new And(left, right) : new Or(left, right);
            }

            return left;
        }

        public void Expect(TokenKind kind)
        {
            if (Next().Kind != kind) throw new FilterSyntaxException(ParseError);
        }

        // unary := "not" chain | atom  — LNOT has the lowest precedence, so it takes the rest of the chain
        private DbFilter Unary()
        {
            if (Peek().Kind != TokenKind.Not) return Atom();
            Next();
            return new Not(Chain());
        }

        private DbFilter Atom()
        {
            var token = Next();
            switch (token.Kind)
            {
                case TokenKind.True:
                    return new True();
                case TokenKind.False:
                    return new False();
                case TokenKind.LParen:
                {
                    var inner = Chain();
                    Expect(TokenKind.RParen);
                    return inner;
                }

                case TokenKind.Ident or TokenKind.Field:
                {
                    var left = Value(token);
                    Expect(TokenKind.Eq);
                    return new Eq(left, Value(Next()));
                }

                default:
                    throw new FilterSyntaxException(ParseError);
            }
        }

        private FilterValue Value((TokenKind Kind, string Text) token)
        {
            if (token.Kind == TokenKind.Ident) return new Literal(token.Text);
            if (token.Kind != TokenKind.Field) throw new FilterSyntaxException(ParseError);
            var name = Next();
            return name.Kind == TokenKind.Ident ? new Field(name.Text) : throw new FilterSyntaxException(ParseError);
        }

        private (TokenKind Kind, string Text) Peek() => _peeked ??= Lex();

        private (TokenKind Kind, string Text) Next()
        {
            var token = Peek();
            _peeked = null;
            return token;
        }

        // db_filter_lex.mll: blanks, = ( ), the keywords, "..." (no escapes), end of input.
        private (TokenKind Kind, string Text) Lex()
        {
            while (_position < text.Length && text[_position] is ' ' or '\t' or '\n') _position++;
            if (_position == text.Length) return (TokenKind.Eof, string.Empty);
            var c = text[_position];
            switch (c)
            {
                case '=':
                    _position++;
                    return (TokenKind.Eq, "=");
                case '(':
                    _position++;
                    return (TokenKind.LParen, "(");
                case ')':
                    _position++;
                    return (TokenKind.RParen, ")");
                case '"':
                {
                    var end = text.IndexOf('"', _position + 1);
                    if (end < 0) throw new FilterSyntaxException(LexError);
                    var ident = text[(_position + 1)..end];
                    _position = end + 1;
                    return (TokenKind.Ident, ident);
                }
            }

            foreach (var (word, kind) in Keywords)
            {
                if (string.CompareOrdinal(text, _position, word, 0, word.Length) != 0) continue;
                _position += word.Length;
                return (kind, word);
            }

            throw new FilterSyntaxException(LexError);
        }
    }
}
