!> Solar geometry and the split of incident shortwave into visible/near-infrared and
!! direct/diffuse parts.
!!
!! Declination, Sun-Earth distance factor and equation of time: Spencer (1971) Fourier
!! series (also used by emulators/data/forcing.py, so forcing and physics see the same Sun).
!! Diffuse fraction: Erbs, Klein & Duffie (1982) clearness-index correlation. Visible and
!! near-infrared are each taken as half of the incident shortwave (as CLM's datm does).
module hm_solar
  use hm_constants, only: dp, pi, solar_const
  implicit none
  private

  public :: solar_geometry, split_shortwave

contains

  !> Cosine of the solar zenith angle and the eccentricity factor at one instant.
  pure subroutine solar_geometry(lat, lon, doy, tod, coszen, ecc)
    real(dp), intent(in) :: lat      !! latitude (degrees north)
    real(dp), intent(in) :: lon      !! longitude (degrees east)
    integer, intent(in) :: doy       !! day of year, 1..365 (noleap) or 366
    real(dp), intent(in) :: tod      !! time of day (s since 00 UTC); may exceed 86400 slightly
    real(dp), intent(out) :: coszen  !! cosine of the zenith angle (may be negative at night)
    real(dp), intent(out) :: ecc     !! (r0 / r)^2, Sun-Earth distance factor
    real(dp) :: g, decl, eot_min, solar_hour, ha, phi
    g = 2._dp * pi * (real(doy - 1, dp) + tod / 86400._dp) / 365._dp
    decl = 0.006918_dp - 0.399912_dp * cos(g) + 0.070257_dp * sin(g) &
         - 0.006758_dp * cos(2._dp * g) + 0.000907_dp * sin(2._dp * g) &
         - 0.002697_dp * cos(3._dp * g) + 0.00148_dp * sin(3._dp * g)
    ecc = 1.000110_dp + 0.034221_dp * cos(g) + 0.001280_dp * sin(g) &
        + 0.000719_dp * cos(2._dp * g) + 0.000077_dp * sin(2._dp * g)
    eot_min = 229.18_dp * (0.000075_dp + 0.001868_dp * cos(g) - 0.032077_dp * sin(g) &
            - 0.014615_dp * cos(2._dp * g) - 0.040849_dp * sin(2._dp * g))
    solar_hour = tod / 3600._dp + lon / 15._dp + eot_min / 60._dp
    ha = (solar_hour - 12._dp) * pi / 12._dp
    phi = lat * pi / 180._dp
    coszen = sin(phi) * sin(decl) + cos(phi) * cos(decl) * cos(ha)
  end subroutine solar_geometry

  !> Split incident shortwave into (visible, NIR) x (direct, diffuse) (W m-2).
  pure subroutine split_shortwave(fsds, coszen, ecc, swdir, swdif)
    real(dp), intent(in) :: fsds        !! incident shortwave (W m-2)
    real(dp), intent(in) :: coszen      !! cosine of the zenith angle
    real(dp), intent(in) :: ecc         !! Sun-Earth distance factor
    real(dp), intent(out) :: swdir(2)   !! direct beam, (vis, nir) (W m-2)
    real(dp), intent(out) :: swdif(2)   !! diffuse, (vis, nir) (W m-2)
    real(dp) :: kt, kd
    if (coszen <= 0.01_dp .or. fsds <= 0._dp) then
      swdir = 0._dp
      swdif = 0.5_dp * max(fsds, 0._dp)
      return
    end if
    kt = min(max(fsds / (solar_const * ecc * coszen), 0._dp), 1._dp)
    if (kt <= 0.22_dp) then
      kd = 1._dp - 0.09_dp * kt
    else if (kt <= 0.80_dp) then
      kd = 0.9511_dp - 0.1604_dp * kt + 4.388_dp * kt**2 - 16.638_dp * kt**3 + 12.336_dp * kt**4
    else
      kd = 0.165_dp
    end if
    swdif = 0.5_dp * fsds * kd
    swdir = 0.5_dp * fsds * (1._dp - kd)
  end subroutine split_shortwave

end module hm_solar
