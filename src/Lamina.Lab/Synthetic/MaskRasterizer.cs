using NetTopologySuite.Geometries;

namespace Lamina.Lab.Synthetic;

/// <summary>Fills polygons into a low-resolution byte mask (255 inside), sampling each mask pixel at its centre.</summary>
internal static class MaskRasterizer
{
    public static byte[] Rasterize(IEnumerable<Polygon> polygons, int scale, int width, int height)
    {
        var mask = new byte[width * height];
        var crossings = new List<double>();
        foreach (var polygon in polygons)
        {
            var rings = new List<Coordinate[]> { polygon.ExteriorRing.Coordinates };
            rings.AddRange(polygon.InteriorRings.Select(r => r.Coordinates));
            var envelope = polygon.EnvelopeInternal;
            var firstRow = Math.Max(0, (int)Math.Floor(envelope.MinY / scale - 0.5));
            var lastRow = Math.Min(height - 1, (int)Math.Ceiling(envelope.MaxY / scale));
            for (var row = firstRow; row <= lastRow; row++)
            {
                var y = (row + 0.5) * scale;
                crossings.Clear();
                foreach (var ring in rings)
                {
                    for (var i = 0; i + 1 < ring.Length; i++)
                    {
                        var (a, b) = (ring[i], ring[i + 1]);
                        if (a.Y <= y == b.Y <= y) continue;
                        crossings.Add(a.X + (y - a.Y) * (b.X - a.X) / (b.Y - a.Y));
                    }
                }
                crossings.Sort();
                // Even-odd: holes of this polygon are left out; other polygons are added on top.
                for (var i = 0; i + 1 < crossings.Count; i += 2)
                {
                    var from = Math.Max(0, (int)Math.Ceiling(crossings[i] / scale - 0.5));
                    var to = Math.Min(width, (int)Math.Ceiling(crossings[i + 1] / scale - 0.5));
                    if (to > from) Array.Fill(mask, (byte)255, row * width + from, to - from);
                }
            }
        }
        return mask;
    }
}
