using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Vigil.Core.Events;

/// <summary>
/// The decoded <c>properties</c> of an event: a read-only string map in the order the entries arrived.
/// </summary>
/// <remarks>
/// Events carry one to a few properties, so a linear search beats a hash table. One and two entries, nearly every
/// event, live in the map's own fields (one allocation of 32 or 48 bytes); more go into one array of alternating keys
/// and values. Keys are unique (the decoder rejects duplicates).
/// </remarks>
internal abstract class PropertyMap : IReadOnlyDictionary<string, string>
{
    public abstract int Count { get; }

    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"'{key}' is not a property.");

    public IEnumerable<string> Keys
    {
        get
        {
            for (int i = 0; i < Count; i++)
            {
                yield return KeyAt(i);
            }
        }
    }

    public IEnumerable<string> Values
    {
        get
        {
            for (int i = 0; i < Count; i++)
            {
                yield return ValueAt(i);
            }
        }
    }

    /// <summary>A map of the alternating keys and values in <paramref name="items"/>, copied; null when there are none.</summary>
    public static PropertyMap? Create(ReadOnlySpan<string> items) => (items.Length / 2) switch
    {
        0 => null,
        1 => new One(items[0], items[1]),
        2 => new Two(items[0], items[1], items[2], items[3]),
        _ => new Many(items.ToArray()),
    };

    /// <summary>A map of one entry.</summary>
    public static PropertyMap Create(string key, string value) => new One(key, value);

    /// <summary>A map of two entries with different keys, in this order.</summary>
    public static PropertyMap Create(string key0, string value0, string key1, string value1) => new Two(key0, value0, key1, value1);

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public abstract bool TryGetValue(string key, [MaybeNullWhen(false)] out string value);

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return new(KeyAt(i), ValueAt(i));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private protected abstract string KeyAt(int index);

    private protected abstract string ValueAt(int index);

    private sealed class One(string key, string value) : PropertyMap
    {
        private readonly string _key = key;
        private readonly string _value = value;

        public override int Count => 1;

        public override bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
        {
            ArgumentNullException.ThrowIfNull(key);
            bool found = string.Equals(_key, key, StringComparison.Ordinal);
            value = found ? _value : null;
            return found;
        }

        private protected override string KeyAt(int index) => _key;

        private protected override string ValueAt(int index) => _value;
    }

    private sealed class Two(string key0, string value0, string key1, string value1) : PropertyMap
    {
        private readonly string _key0 = key0;
        private readonly string _value0 = value0;
        private readonly string _key1 = key1;
        private readonly string _value1 = value1;

        public override int Count => 2;

        public override bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
        {
            ArgumentNullException.ThrowIfNull(key);
            if (string.Equals(_key0, key, StringComparison.Ordinal))
            {
                value = _value0;
                return true;
            }

            if (string.Equals(_key1, key, StringComparison.Ordinal))
            {
                value = _value1;
                return true;
            }

            value = null;
            return false;
        }

        private protected override string KeyAt(int index) => index == 0 ? _key0 : _key1;

        private protected override string ValueAt(int index) => index == 0 ? _value0 : _value1;
    }

    private sealed class Many(string[] items) : PropertyMap
    {
        private readonly string[] _items = items;

        public override int Count => _items.Length / 2;

        public override bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
        {
            ArgumentNullException.ThrowIfNull(key);
            for (int i = 0; i < _items.Length; i += 2)
            {
                if (string.Equals(_items[i], key, StringComparison.Ordinal))
                {
                    value = _items[i + 1];
                    return true;
                }
            }

            value = null;
            return false;
        }

        private protected override string KeyAt(int index) => _items[index * 2];

        private protected override string ValueAt(int index) => _items[(index * 2) + 1];
    }
}
