"""Image-to-video providers behind one seam (`base.VideoProvider`)."""
