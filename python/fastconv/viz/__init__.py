"""fastconv.viz: looking inside CNNs (the course's interpretation tools) and the numbers behind them.

    from fastconv import viz
    maps = viz.feature_maps(model, x, layers=["features.3"])       # activations at named layers
    cam = viz.grad_cam(model, x, target_class=3)                   # (N, H, W) in [0, 1]
    occ = viz.occlusion_map(model, x, 3, patch=8, stride=4)        # drop in p(class) per patch position
    viz.receptive_field([(3, 1), (4, 1), (2, 2)])                  # rf 3, 6, 7 (the course example)
    viz.layer_table(model, (3, 32, 32))                            # params, MACs, FLOPs per layer
    viz.save_heatmap_overlay(x[0], cam[0], "cam.png")

Every function returns NumPy arrays; writing PNGs needs Pillow or matplotlib, training curves need matplotlib.
"""
from __future__ import annotations

from .counts import LayerCount, format_layer_table, layer_table
from .features import feature_map_grid, feature_maps, kernel_grid, kernel_images, layer_names, normalize
from .gradcam import default_cam_layer, grad_cam
from .occlusion import occlusion_map, occlusion_positions
from .plots import heatmap_overlay, jet, load_history, plot_history, save_heatmap_overlay, save_image, to_uint8
from .receptive_field import RFLayer, format_receptive_field, receptive_field

__all__ = ["feature_maps", "layer_names", "feature_map_grid", "kernel_images", "kernel_grid", "normalize",
           "grad_cam", "default_cam_layer", "occlusion_map", "occlusion_positions", "receptive_field",
           "RFLayer", "format_receptive_field", "layer_table", "LayerCount", "format_layer_table", "save_image",
           "to_uint8", "jet", "heatmap_overlay", "save_heatmap_overlay", "plot_history", "load_history"]
