using Vigil.Core.Engine;
using Vigil.Core.Events;

namespace Vigil.Core.Features;

/// <summary>
/// One user's behaviour, kept incrementally as events arrive: counters, a circular mean of the active hour, Welford
/// statistics of the gaps between events and three distinct-value sketches. A value type with no heap object, updated
/// in place in a <see cref="KeyedState{TState}"/>: <see cref="SizeInBytes"/> bytes per user (152) plus the key.
/// </summary>
/// <remarks>
/// Every statistic is exact except the distinct counts above <see cref="DistinctSketch.ExactCapacity"/>
/// (<see cref="DistinctSketch"/>). Events that arrive out of order count everywhere except in the gap statistics
/// (a gap is measured only forwards from the latest event) and in <see cref="UserFeature.DaysActive"/> (a day is
/// counted when the stream first reaches it), so no event is ever counted twice. Hours and days are UTC. The sums
/// behind the mean hour and the gap statistics stay doubles: in floats they would drift from the batch aggregation
/// (and from scikit-learn and DuckDB) after a few thousand events; the latest day is derived from the latest time.
/// </remarks>
public struct UserFeatureState
{
    private const long DayMs = 86_400_000;
    private const long HourMs = 3_600_000;

    private double _hourCos;
    private double _hourSin;
    private double _gapMean;
    private double _gapM2;
    private long _lastMs;
    private int _events;
    private int _sessions;
    private int _logins;
    private int _failedLogins;
    private int _searches;
    private int _accountChanges;
    private int _nightEvents;
    private int _daysActive;
    private int _gaps;
    private uint _sessionHash;
    // The hash of the latest client address seen (0: none yet); not checkpointed. Its country is in _countries already.
    private ulong _lastIpHash;
    private DistinctSketch _ips;
    private DistinctSketch _countries;
    private DistinctSketch _devices;

    /// <summary>Bytes of one state (what <see cref="KeyedState{TState}.ApproximateBytes"/> counts per key besides the key).</summary>
    public static int SizeInBytes => System.Runtime.CompilerServices.Unsafe.SizeOf<UserFeatureState>();

    /// <summary>Events seen.</summary>
    public readonly int Events => _events;

    /// <summary>Successful logins seen: the learning minimum of the anomaly rule counts these.</summary>
    public readonly int Logins => _logins;

    /// <summary>The latest event time seen, Unix ms (0 before the first event).</summary>
    public readonly long LastEventMs => _lastMs;

    /// <summary>The segment code last assigned (<see cref="Ml.SegmentNames"/>), 0 when none.</summary>
    public short SegmentCode { readonly get; internal set; }

    /// <summary>The version of the segment model that assigned <see cref="SegmentCode"/>.</summary>
    public int SegmentModelVersion { readonly get; internal set; }

    /// <summary><see cref="Events"/> at the last segment assignment.</summary>
    public int EventsAtSegment { readonly get; internal set; }

    /// <summary>Adds one event. <paramref name="countryCode"/> is where the event's IP resolves (empty when unknown).</summary>
    /// <param name="evt">The event; its time is <see cref="UserEvent.TimestampMs"/>.</param>
    /// <param name="countryCode">ISO country code of the client address, or empty.</param>
    /// <param name="sessionTimeoutMs">For events without a session id: a longer silence starts a new session.</param>
    public void Add(UserEvent evt, ReadOnlySpan<char> countryCode, long sessionTimeoutMs)
    {
        ArgumentNullException.ThrowIfNull(evt);
        AddCore(evt, sessionTimeoutMs);
        if (evt.IpAddress is { Length: > 0 } ip)
        {
            var ipHash = StableHash.Hash64(ip, 1);
            _ips.Add(ipHash);
            _lastIpHash = ipHash;
        }
        if (!countryCode.IsEmpty)
        {
            _countries.Add(StableHash.Hash64(countryCode, 2));
        }
    }

    /// <summary>
    /// <see cref="Add(UserEvent, ReadOnlySpan{char}, long)"/> with the country looked up in <paramref name="geo"/> only when
    /// the address differs from the user's previous one: the same address has the same country, which the distinct
    /// count already holds, so nearly every event skips the lookup.
    /// </summary>
    /// <param name="evt">The event.</param>
    /// <param name="geo">Resolves the client address to a country; null leaves the country count at 0.</param>
    /// <param name="sessionTimeoutMs">For events without a session id: a longer silence starts a new session.</param>
    public void Add(UserEvent evt, Geo.IGeoLocator? geo, long sessionTimeoutMs)
    {
        ArgumentNullException.ThrowIfNull(evt);
        AddCore(evt, sessionTimeoutMs);
        if (evt.IpAddress is { Length: > 0 } ip)
        {
            var ipHash = StableHash.Hash64(ip, 1);
            if (ipHash != _lastIpHash || _lastIpHash == 0)
            {
                _ips.Add(ipHash);
                _lastIpHash = ipHash;
                if (geo is not null && geo.TryLookup(ip, out var location) && !string.IsNullOrEmpty(location.CountryCode))
                {
                    _countries.Add(StableHash.Hash64(location.CountryCode, 2));
                }
            }
        }
    }

    private void AddCore(UserEvent evt, long sessionTimeoutMs)
    {
        var t = evt.TimestampMs;
        var first = _events == 0;

        // Sessions: a new session id starts one; without ids, a silence longer than the timeout does.
        if (evt.SessionId is { Length: > 0 } sessionId)
        {
            // 32 bits tell one session from the next (a false "same session" needs two consecutive ids to collide).
            var h = (uint)StableHash.Hash64(sessionId) | 1;
            if (first || h != _sessionHash)
            {
                _sessions++;
                _sessionHash = h;
            }
        }
        else if (first || _sessionHash != 0 || t - _lastMs > sessionTimeoutMs)
        {
            _sessions++;
            _sessionHash = 0;
        }

        if (first)
        {
            _lastMs = t;
            _daysActive = 1;
        }
        else
        {
            // The latest day reached is the day of the latest time: an older event never reaches a new day.
            var lastDay = FloorDiv(_lastMs, DayMs);
            if (t >= _lastMs)
            {
                // Welford's update: numerically stable mean and variance in one pass.
                var gap = (t - _lastMs) / 1000.0;
                _gaps++;
                var delta = gap - _gapMean;
                _gapMean += delta / _gaps;
                _gapM2 += delta * (gap - _gapMean);
                _lastMs = t;
            }
            if (FloorDiv(t, DayMs) > lastDay)
            {
                _daysActive++;
            }
        }
        _events++;

        var msOfDay = t - (FloorDiv(t, DayMs) * DayMs);
        // One sincos for both (bit for bit what Math.Sin and Math.Cos give).
        var (sin, cos) = Math.SinCos(2 * Math.PI * msOfDay / DayMs);
        _hourCos += cos;
        _hourSin += sin;
        if (msOfDay < 6 * HourMs)
        {
            _nightEvents++;
        }

        switch (evt.Type)
        {
            case EventType.LoginSuccess: _logins++; break;
            case EventType.LoginFailed: _failedLogins++; break;
            case EventType.Search: _searches++; break;
            case EventType.PasswordChanged or EventType.PasswordResetRequested or EventType.EmailChanged or EventType.MfaChanged:
                _accountChanges++;
                break;
        }

        if (evt.UserAgent is { Length: > 0 } agent)
        {
            // Memoised per user-agent instance: hashing ~130 characters per event was a tenth of this operator.
            _devices.Add(Detection.UserAgents.FeatureDeviceHash(agent));
        }
    }

    /// <summary>Writes the <see cref="UserFeatures.Count"/> features, in <see cref="UserFeature"/> order, in original units.</summary>
    /// <exception cref="ArgumentException"><paramref name="features"/> is shorter than <see cref="UserFeatures.Count"/>.</exception>
    public readonly void WriteTo(Span<float> features)
    {
        if (features.Length < UserFeatures.Count)
        {
            throw new ArgumentException($"A feature vector has {UserFeatures.Count} slots.", nameof(features));
        }
        var sessions = Math.Max(1, _sessions);
        features[(int)UserFeature.Events] = _events;
        features[(int)UserFeature.Sessions] = _sessions;
        features[(int)UserFeature.EventsPerSession] = (float)((double)_events / sessions);
        features[(int)UserFeature.MeanActiveHour] = (float)MeanHour();
        features[(int)UserFeature.NightShare] = _events == 0 ? 0 : (float)((double)_nightEvents / _events);
        var attempts = _logins + _failedLogins;
        features[(int)UserFeature.FailedLoginRatio] = attempts == 0 ? 0 : (float)((double)_failedLogins / attempts);
        features[(int)UserFeature.DistinctIps] = (float)_ips.Estimate();
        features[(int)UserFeature.DistinctCountries] = (float)_countries.Estimate();
        features[(int)UserFeature.DistinctDevices] = (float)_devices.Estimate();
        features[(int)UserFeature.SearchesPerSession] = (float)((double)_searches / sessions);
        features[(int)UserFeature.GapMeanSeconds] = (float)_gapMean;
        features[(int)UserFeature.GapStdSeconds] = _gaps < 2 ? 0 : (float)Math.Sqrt(_gapM2 / (_gaps - 1));
        features[(int)UserFeature.DaysActive] = _daysActive;
        features[(int)UserFeature.Logins] = _logins;
        features[(int)UserFeature.AccountChanges] = _accountChanges;
    }

    private readonly double MeanHour()
    {
        if (_events == 0 || (Math.Abs(_hourCos) < 1e-9 && Math.Abs(_hourSin) < 1e-9))
        {
            return 0;
        }
        var hour = Math.Atan2(_hourSin, _hourCos) * 24 / (2 * Math.PI);
        hour = hour < 0 ? hour + 24 : hour;
        return hour >= 24 ? 0 : hour;
    }

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    /// <summary>The checkpoint form: every field, a format byte first (format 2: no first time, no latest day, a
    /// 32-bit session hash, compact sketches).</summary>
    public sealed class Serializer : IStateSerializer<UserFeatureState>
    {
        private const byte Format = 2;

        /// <summary>A shared instance.</summary>
        public static Serializer Instance { get; } = new();

        public void Write(BinaryWriter writer, UserFeatureState value)
        {
            ArgumentNullException.ThrowIfNull(writer);
            writer.Write(Format);
            writer.Write(value._lastMs);
            writer.Write(value._events);
            writer.Write(value._sessions);
            writer.Write(value._logins);
            writer.Write(value._failedLogins);
            writer.Write(value._searches);
            writer.Write(value._accountChanges);
            writer.Write(value._nightEvents);
            writer.Write(value._daysActive);
            writer.Write(value._hourCos);
            writer.Write(value._hourSin);
            writer.Write(value._gaps);
            writer.Write(value._gapMean);
            writer.Write(value._gapM2);
            writer.Write(value._sessionHash);
            value._ips.Write(writer);
            value._countries.Write(writer);
            value._devices.Write(writer);
            writer.Write(value.SegmentCode);
            writer.Write(value.SegmentModelVersion);
            writer.Write(value.EventsAtSegment);
        }

        public UserFeatureState Read(BinaryReader reader)
        {
            ArgumentNullException.ThrowIfNull(reader);
            var format = reader.ReadByte();
            if (format != Format)
            {
                throw new InvalidDataException($"A user feature state has format {format}; this version reads {Format}.");
            }
            return new UserFeatureState
            {
                _lastMs = reader.ReadInt64(),
                _events = reader.ReadInt32(),
                _sessions = reader.ReadInt32(),
                _logins = reader.ReadInt32(),
                _failedLogins = reader.ReadInt32(),
                _searches = reader.ReadInt32(),
                _accountChanges = reader.ReadInt32(),
                _nightEvents = reader.ReadInt32(),
                _daysActive = reader.ReadInt32(),
                _hourCos = reader.ReadDouble(),
                _hourSin = reader.ReadDouble(),
                _gaps = reader.ReadInt32(),
                _gapMean = reader.ReadDouble(),
                _gapM2 = reader.ReadDouble(),
                _sessionHash = reader.ReadUInt32(),
                _ips = DistinctSketch.Read(reader),
                _countries = DistinctSketch.Read(reader),
                _devices = DistinctSketch.Read(reader),
                SegmentCode = reader.ReadInt16(),
                SegmentModelVersion = reader.ReadInt32(),
                EventsAtSegment = reader.ReadInt32(),
            };
        }
    }
}
