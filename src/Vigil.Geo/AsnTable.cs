using System.Globalization;
using System.Text;

namespace Vigil.Geo;

/// <summary>An autonomous system: its number, registered name and whether it is a hosting/VPN network.</summary>
internal sealed record AsnInfo(uint Asn, string Organization, bool IsHosting);

/// <summary>
/// IP ranges to autonomous systems, from the <c>@ip-location-db/asn</c> CSV files
/// (<c>start,end,asn,"organisation"</c>, inclusive ranges, sorted by start), held as sorted arrays for binary search.
/// </summary>
/// <remarks>
/// About 412,000 IPv4 and 103,000 IPv6 ranges, held in flat arrays (about 5 MB and 4 MB) that point into one shared
/// record per AS (about 91,000 of them). Each AS has one name in the table, so the name string and the hosting
/// classification are made once per AS, not per range.
/// </remarks>
internal sealed class AsnTable
{
    private readonly uint[] _v4Starts;
    private readonly uint[] _v4Ends;
    private readonly int[] _v4Info;
    private readonly UInt128[] _v6Starts;
    private readonly UInt128[] _v6Ends;
    private readonly int[] _v6Info;
    private readonly AsnInfo[] _infos;

    private AsnTable(Ranges<uint> v4, Ranges<UInt128> v6, AsnInfo[] infos)
    {
        (_v4Starts, _v4Ends, _v4Info) = v4.ToArrays();
        (_v6Starts, _v6Ends, _v6Info) = v6.ToArrays();
        _infos = infos;
    }

    /// <summary>The number of IPv4 ranges.</summary>
    public int IPv4RangeCount => _v4Starts.Length;

    /// <summary>The number of IPv6 ranges.</summary>
    public int IPv6RangeCount => _v6Starts.Length;

    /// <summary>Reads the IPv4 and IPv6 CSV files.</summary>
    /// <exception cref="InvalidDataException">A line is not a range of the expected form.</exception>
    public static AsnTable Load(string ipv4Csv, string ipv6Csv)
    {
        var infos = new List<AsnInfo>();
        var byAsn = new Dictionary<uint, int>();
        var v4 = new Ranges<uint>();
        var v6 = new Ranges<UInt128>();
        Read(ipv4Csv, infos, byAsn, (start, end, info) =>
        {
            if (!IpKey.IsIPv4(start) || !IpKey.IsIPv4(end))
            {
                return false;
            }

            v4.Add(IpKey.ToIPv4(start), IpKey.ToIPv4(end), info);
            return true;
        });
        Read(ipv6Csv, infos, byAsn, (start, end, info) =>
        {
            v6.Add(start, end, info);
            return true;
        });
        return new AsnTable(v4, v6, [.. infos]);
    }

    /// <summary>The AS announcing the address with key <paramref name="key"/>, or null.</summary>
    public AsnInfo? Find(UInt128 key)
    {
        int i = IpKey.IsIPv4(key)
            ? Find(_v4Starts, _v4Ends, IpKey.ToIPv4(key))
            : Find(_v6Starts, _v6Ends, key);
        if (i < 0)
        {
            return null;
        }

        return _infos[IpKey.IsIPv4(key) ? _v4Info[i] : _v6Info[i]];
    }

    private static int Find<T>(T[] starts, T[] ends, T key)
        where T : IComparable<T>
    {
        // The last range starting at or before the key, if it reaches the key.
        int i = Array.BinarySearch(starts, key);
        if (i < 0)
        {
            i = ~i - 1;
        }

        return i >= 0 && key.CompareTo(ends[i]) <= 0 ? i : -1;
    }

    private static void Read(string path, List<AsnInfo> infos, Dictionary<uint, int> byAsn, Func<UInt128, UInt128, int, bool> add)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            ReadOnlySpan<char> rest = line;
            if (!TryField(ref rest, out var startText) || !TryField(ref rest, out var endText) || !TryField(ref rest, out var asnText)
                || !IpKey.TryParse(startText, out var start) || !IpKey.TryParse(endText, out var end) || end < start
                || !uint.TryParse(asnText, NumberStyles.None, CultureInfo.InvariantCulture, out uint asn))
            {
                throw Bad(path, lineNumber, line);
            }

            if (!byAsn.TryGetValue(asn, out int info))
            {
                // The first name seen stands for the AS (every AS has a single name in the table).
                string organization = Unquote(rest);
                info = infos.Count;
                infos.Add(new AsnInfo(asn, organization, HostingNetworks.IsHosting(asn, organization)));
                byAsn.Add(asn, info);
            }

            if (!add(start, end, info))
            {
                throw Bad(path, lineNumber, line);
            }
        }
    }

    private static InvalidDataException Bad(string path, int lineNumber, string line) =>
        new($"{path}:{lineNumber}: expected 'start,end,asn,organisation', got '{line}'");

    private static bool TryField(ref ReadOnlySpan<char> rest, out ReadOnlySpan<char> field)
    {
        int comma = rest.IndexOf(',');
        if (comma < 0)
        {
            field = default;
            return false;
        }

        field = rest[..comma];
        rest = rest[(comma + 1)..];
        return true;
    }

    private static string Unquote(ReadOnlySpan<char> text)
    {
        if (text.Length >= 2 && text[0] == '"' && text[^1] == '"')
        {
            return text[1..^1].ToString().Replace("\"\"", "\"", StringComparison.Ordinal);
        }

        return text.ToString();
    }

    /// <summary>A growing set of ranges; sorted on completion if the file was not (it is, bar overlaps).</summary>
    private sealed class Ranges<T>
        where T : IComparable<T>
    {
        private T[] _starts = new T[1024];
        private T[] _ends = new T[1024];
        private int[] _infos = new int[1024];
        private int _count;
        private bool _sorted = true;

        public void Add(T start, T end, int info)
        {
            if (_count == _starts.Length)
            {
                Array.Resize(ref _starts, _count * 2);
                Array.Resize(ref _ends, _count * 2);
                Array.Resize(ref _infos, _count * 2);
            }

            if (_count > 0 && start.CompareTo(_starts[_count - 1]) < 0)
            {
                _sorted = false;
            }

            _starts[_count] = start;
            _ends[_count] = end;
            _infos[_count] = info;
            _count++;
        }

        public (T[] Starts, T[] Ends, int[] Infos) ToArrays()
        {
            var starts = _starts[.._count];
            var ends = _ends[.._count];
            var infos = _infos[.._count];
            if (!_sorted)
            {
                var order = new int[_count];
                for (int i = 0; i < order.Length; i++)
                {
                    order[i] = i;
                }

                Array.Sort((T[])starts.Clone(), order);
                var sortedStarts = new T[_count];
                var sortedEnds = new T[_count];
                var sortedInfos = new int[_count];
                for (int i = 0; i < order.Length; i++)
                {
                    sortedStarts[i] = starts[order[i]];
                    sortedEnds[i] = ends[order[i]];
                    sortedInfos[i] = infos[order[i]];
                }

                return (sortedStarts, sortedEnds, sortedInfos);
            }

            return (starts, ends, infos);
        }
    }
}
