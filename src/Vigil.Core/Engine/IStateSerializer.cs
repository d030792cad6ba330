namespace Vigil.Core.Engine;

/// <summary>
/// Writes and reads one kind of value inside a checkpoint. Implementations must be deterministic (the same value
/// gives the same bytes) and must read exactly what they wrote, so a restored operator continues as if never stopped.
/// </summary>
public interface IStateSerializer<T>
{
    void Write(BinaryWriter writer, T value);

    T Read(BinaryReader reader);
}
