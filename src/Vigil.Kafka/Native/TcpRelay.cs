using System.Net;
using System.Net.Sockets;

namespace Vigil.Kafka.Native;

/// <summary>
/// Relays loopback connections from a fixed port to the mock broker's kernel-chosen one, because the mock
/// cannot bind a port of our choosing.
/// </summary>
internal sealed class TcpRelay : IDisposable
{
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private TcpRelay(TcpListener listener, int targetPort)
    {
        _listener = listener;
        _targetPort = targetPort;
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

    public static TcpRelay Start(int port, int targetPort)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return new TcpRelay(listener, targetPort);
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = RelayAsync(inbound, ct);
        }
    }

    private async Task RelayAsync(Socket inbound, CancellationToken ct)
    {
        using var inboundStream = new NetworkStream(inbound, ownsSocket: true);
        using var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        inbound.NoDelay = true;
        try
        {
            await outbound.ConnectAsync(IPAddress.Loopback, _targetPort, ct).ConfigureAwait(false);
            using var outboundStream = new NetworkStream(outbound, ownsSocket: false);
            // Whichever side closes first ends both directions, as a broker restart would.
            var first = await Task.WhenAny(
                inboundStream.CopyToAsync(outboundStream, ct),
                outboundStream.CopyToAsync(inboundStream, ct)).ConfigureAwait(false);
            await first.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // A dropped connection is the client's to notice and retry; the relay has nothing to add.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _ = _acceptLoop.ContinueWith(static _ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }
}
