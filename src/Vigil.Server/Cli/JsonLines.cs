using System.Buffers;
using System.Runtime.CompilerServices;

namespace Vigil.Server.Cli;

/// <summary>One line of a JSON-lines file, without its line ending.</summary>
/// <param name="Bytes">The line; valid until the next line is read.</param>
/// <param name="IsBlank">Only white space.</param>
public readonly record struct JsonLine(ReadOnlyMemory<byte> Bytes, bool IsBlank);

/// <summary>
/// Splits a stream into lines without decoding them, reusing one pooled buffer. A line longer than the limit is
/// cut after limit + 1 bytes and the rest skipped, so one huge line cannot exhaust memory and the decoder still
/// sees it is too large.
/// </summary>
public static class JsonLines
{
    public static async IAsyncEnumerable<JsonLine> ReadAsync(Stream stream, int maxLineBytes,
        [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        var line = ArrayPool<byte>.Shared.Rent(1 << 12);
        var lineLength = 0;
        var overflow = false;
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, ct)) > 0)
            {
                var start = 0;
                while (start < read)
                {
                    var newline = Array.IndexOf(buffer, (byte)'\n', start, read - start);
                    var end = newline < 0 ? read : newline;
                    Append(buffer.AsSpan(start, end - start));
                    if (newline < 0)
                    {
                        break;
                    }
                    yield return Complete();
                    lineLength = 0;
                    overflow = false;
                    start = newline + 1;
                }
            }
            if (lineLength > 0)
            {
                yield return Complete();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(line);
        }

        void Append(ReadOnlySpan<byte> part)
        {
            if (overflow)
            {
                return;
            }
            var room = maxLineBytes + 1 - lineLength;
            if (part.Length > room)
            {
                part = part[..room];
                overflow = true;
            }
            if (lineLength + part.Length > line.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(line.Length * 2, lineLength + part.Length));
                line.AsSpan(0, lineLength).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(line);
                line = bigger;
            }
            part.CopyTo(line.AsSpan(lineLength));
            lineLength += part.Length;
        }

        JsonLine Complete()
        {
            var length = lineLength;
            if (length > 0 && line[length - 1] == (byte)'\r')
            {
                length--;
            }
            var memory = new ReadOnlyMemory<byte>(line, 0, length);
            return new JsonLine(memory, memory.Span.Trim(" \t"u8).IsEmpty);
        }
    }
}
