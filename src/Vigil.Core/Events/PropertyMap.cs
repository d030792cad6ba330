using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Vigil.Core.Events;

/// <summary>
/// The decoded <c>properties</c> of an event: a read-only string map in one array of alternating keys and values, in
/// the order they arrived.
/// </summary>
/// <remarks>
/// Events carry one to a few properties, so a linear search over a flat array beats a hash table and costs two
/// allocations instead of a dictionary's three and its buckets. Keys are unique (the decoder rejects duplicates).
/// </remarks>
internal sealed class PropertyMap(string[] items) : IReadOnlyDictionary<string, string>
{
    private readonly string[] _items = items;

    public int Count => _items.Length / 2;

    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"'{key}' is not a property.");

    public IEnumerable<string> Keys
    {
        get
        {
            for (int i = 0; i < _items.Length; i += 2)
            {
                yield return _items[i];
            }
        }
    }

    public IEnumerable<string> Values
    {
        get
        {
            for (int i = 1; i < _items.Length; i += 2)
            {
                yield return _items[i];
            }
        }
    }

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        int index = IndexOf(key);
        value = index >= 0 ? _items[index + 1] : null;
        return index >= 0;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (int i = 0; i < _items.Length; i += 2)
        {
            yield return new(_items[i], _items[i + 1]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        for (int i = 0; i < _items.Length; i += 2)
        {
            if (string.Equals(_items[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
