"""What more than one component (and the local runner after them) needs: directories published
whole or not at all, and the pixel-confusion arithmetic behind every segmentation score."""
