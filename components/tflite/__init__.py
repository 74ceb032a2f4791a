"""TfliteExport: the phone model. The trained model converted by TensorFlow's own TFLite
converter (float16 and full-integer int8), scored on the whole eval split with the Evaluator's
arithmetic, gated (int8 only within --tflite-max-drop of float16) and pushed beside the
SavedModel under the same version number."""
