using System.Text;
using TestGrid.Results;

namespace TestGrid.Tests.Unit;

[TestFixture]
public sealed class OutputCaptureTests
{
    [Test]
    public void Keeps_everything_below_the_cap()
    {
        var capture = new OutputCapture(16, 16);
        capture.Append("hello\nworld\n"u8);
        var output = capture.ToCaptured();
        Assert.That((output.Text, output.TotalBytes, output.DroppedBytes), Is.EqualTo(("hello\nworld\n", 12L, 0L)));
    }

    [Test]
    public void Keeps_head_and_tail_and_says_how_much_was_dropped()
    {
        var capture = new OutputCapture(8, 8);
        var text = string.Concat(Enumerable.Range(0, 100).Select(i => (char)('a' + i % 26)));
        // In uneven pieces, as a network delivers them.
        var bytes = Encoding.ASCII.GetBytes(text);
        for (var i = 0; i < bytes.Length; i += 7) capture.Append(bytes.AsSpan(i, Math.Min(7, bytes.Length - i)));

        var output = capture.ToCaptured();

        Assert.Multiple(() =>
        {
            Assert.That(output.Head, Is.EqualTo(text[..8]));
            Assert.That(output.Tail, Is.EqualTo(text[^8..]));
            Assert.That((output.TotalBytes, output.DroppedBytes), Is.EqualTo((100L, 84L)));
            Assert.That(output.Text, Does.Contain("[… 84 bytes dropped of 100 …]"));
        });
    }

    [Test]
    public void A_single_append_larger_than_the_tail_keeps_its_end()
    {
        var capture = new OutputCapture(4, 4);
        capture.Append("0123456789"u8);
        capture.Append("abcdefghijklmnop"u8);
        var output = capture.ToCaptured();
        Assert.That((output.Head, output.Tail, output.DroppedBytes), Is.EqualTo(("0123", "mnop", 18L)));
    }

    [Test]
    public void Memory_stays_constant_whatever_is_appended()
    {
        var capture = new OutputCapture();
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'x');
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1600; i++) capture.Append(chunk); // 100 MiB
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.LessThan(1024), "appending allocates nothing");
        Assert.That(capture.ToCaptured().DroppedBytes, Is.EqualTo(100L * 1024 * 1024 - OutputCapture.DefaultHeadBytes - OutputCapture.DefaultTailBytes));
    }

    [Test]
    public void Excerpt_shortens_for_reports_and_keeps_the_counts()
    {
        var output = new CapturedOutput(new string('h', 5000), new string('t', 5000), 1_000_000, 990_000).Excerpt(100);
        Assert.That((output.Head, output.Tail, output.TotalBytes), Is.EqualTo((new string('h', 100), new string('t', 100), 1_000_000L)));
    }

    [Test]
    public void Invalid_UTF8_from_a_guest_becomes_replacement_characters()
    {
        var capture = new OutputCapture();
        capture.Append([0x66, 0xff, 0xfe, 0x6f]);
        Assert.That(capture.ToCaptured().Text, Is.EqualTo("f\uFFFD\uFFFDo"));
    }
}
