"""Reference Macenko stain normalisation of source_image.png to target_image.png, written to norm_macenko.png.

Also writes norm_macenko_od015.png: the same with the paper's tissue mask (optical density at least 0.15 in every
channel) in place of TIAToolbox's luminosity mask, for Lamina's od_threshold option; TIAToolbox has no such option.

A NumPy re-statement (not a copy) of TIAToolbox's Macenko normaliser, run once to make the reference the C# tests
compare against; the tests themselves never run Python. Transcribed from TissueImageAnalytics/tiatoolbox:
  tiatoolbox/tools/stainextract.py   MacenkoExtractor.get_stain_matrix    (commit fdf763ebe82e83615f92f6f6533e11b6252d47de)
  tiatoolbox/tools/stainnorm.py      StainNormalizer.get_concentrations, fit, transform
                                                                          (commit 04ad5be872541f841fcb01c4c2b8c390496c53b3)
  tiatoolbox/utils/misc.py           get_luminosity_tissue_mask, contrast_enhancer
                                                                          (commit 00acc7237cabb4f0a6a8d45f6446e77530c16a5a)
  tiatoolbox/utils/transforms.py     rgb2od / convert_RGB2OD             (commit 00a6aa2b66b110482921b930fca7e8028b6074f4)
Conventions: luminosity threshold 0.8 on the contrast-stretched image, angular percentiles 1 and 99, H first (larger
red OD), least-squares concentrations over every pixel scaled by their 99th percentile, 255*exp(-C S) truncated to
uint8. Without OpenCV and scikit-image here, two helpers are restated: cv2.cvtColor's 8-bit RGB->LAB luminosity (sRGB,
D65, L*255/100 rounded; only the tissue mask uses it) and skimage.exposure.rescale_intensity to 0..255 then np.uint8.

Usage (NumPy and Pillow): python3 macenko_reference.py   (from this folder)
"""
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
LUMINOSITY_THRESHOLD = 0.8
ANGULAR_PERCENTILE = 99


def read_rgb(name):
    return np.asarray(Image.open(os.path.join(HERE, name)).convert("RGB"), dtype=np.uint8)


def stretch_contrast(img, low_p=2, high_p=98):
    low, high = np.percentile(img, (low_p, high_p))
    if low >= high:
        low, high = float(img.min()), float(img.max())
    if high > low:
        scaled = (np.clip(img, low, high) - low) / (high - low) * 255.0
        return scaled.astype(np.uint8)
    return img.copy()


def opencv_luminosity(img):
    """L of cv2.cvtColor(img, COLOR_RGB2LAB) for uint8 images (0..255)."""
    x = img.astype(np.float64) / 255.0
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    y = linear @ np.array([0.212671, 0.715160, 0.072169])
    lum = np.where(y > 0.008856, 116.0 * np.cbrt(y) - 16.0, 903.3 * y)
    return np.clip(np.rint(lum * 255.0 / 100.0), 0, 255)


def tissue_mask(img, od_threshold=None):
    if od_threshold is None:
        mask = opencv_luminosity(stretch_contrast(img)) / 255.0 < LUMINOSITY_THRESHOLD
    else:
        mask = np.all(optical_density(img) >= od_threshold, axis=2)
    if not mask.any():
        raise ValueError("empty tissue mask")
    return mask


def optical_density(img):
    safe = np.where(img == 0, 1, img).astype(np.float64)
    return np.maximum(-np.log(safe / 255.0), 1e-6)


def stain_matrix(img, od_threshold=None):
    od = optical_density(img).reshape((-1, 3))[tissue_mask(img, od_threshold).reshape((-1,))]
    _, vectors = np.linalg.eigh(np.cov(od, rowvar=False))
    vectors = vectors[:, [2, 1]]
    for k in range(2):
        if vectors[0, k] < 0:
            vectors[:, k] *= -1
    projected = od @ vectors
    angles = np.arctan2(projected[:, 1], projected[:, 0])
    low = np.percentile(angles, 100 - ANGULAR_PERCENTILE)
    high = np.percentile(angles, ANGULAR_PERCENTILE)
    v1 = vectors @ np.array([np.cos(low), np.sin(low)])
    v2 = vectors @ np.array([np.cos(high), np.sin(high)])
    he = np.array([v1, v2]) if v1[0] > v2[0] else np.array([v2, v1])
    return he / np.linalg.norm(he, axis=1)[:, None]


def concentrations(img, matrix):
    od = optical_density(img).reshape((-1, 3))
    solution, _, _, _ = np.linalg.lstsq(matrix.T, od.T, rcond=-1)
    return solution.T


def normalise(name, od_threshold=None):
    target = read_rgb("target_image.png")
    source = read_rgb("source_image.png")
    target_matrix = stain_matrix(target, od_threshold)
    target_max = np.percentile(concentrations(target, target_matrix), 99, axis=0).reshape((1, 2))
    source_matrix = stain_matrix(source, od_threshold)
    source_c = concentrations(source, source_matrix)
    source_max = np.percentile(source_c, 99, axis=0).reshape((1, 2))
    source_c *= target_max / source_max
    out = 255.0 * np.exp(-(source_c @ target_matrix))
    out = np.clip(out, 0, 255).reshape(source.shape).astype(np.uint8)
    Image.fromarray(out).save(os.path.join(HERE, name))
    np.set_printoptions(precision=6, suppress=True)
    print(name)
    print("target stain matrix\n", target_matrix, "\ntarget max concentrations", target_max.ravel())
    print("source stain matrix\n", source_matrix, "\nsource max concentrations", source_max.ravel())


def main():
    normalise("norm_macenko.png")
    normalise("norm_macenko_od015.png", od_threshold=0.15)


if __name__ == "__main__":
    main()
