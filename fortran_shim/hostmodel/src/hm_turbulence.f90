!> Turbulent exchange of one patch: roughness from vegetation height, Monin-Obukhov
!! stability-corrected aerodynamic resistance, and the leaf boundary-layer resistances set
!! by the leaf exchange coefficients cdl (vapour) and chl (heat).
!!
!! Roughness z0m = 0.13 h and displacement d = 0.67 h (Brutsaert 1982), blended with the
!! ground roughness by the vegetated fraction (log-average of z0, linear in d); z0h = z0m e^-2.
!! Forcing is taken at zatm = 30 m above d + z0m as CLM does with data-atmosphere forcing.
!! Stability functions: Paulson (1970) / Dyer (1974) for unstable, Webb (1970) -5 zeta for
!! stable conditions, zeta clipped to [-5, 1]; first guess from the bulk Richardson number
!! (CLM4.5 eq. 5.46-5.47), then iterated with the Obukhov length of the solved fluxes.
!! Leaf boundary layer (after MATSIRO/ILS bulk leaf exchange coefficients): conductance per
!! unit vegetated area g_b = c * u_h * (L + S) with u_h the log-profile wind at canopy top.
!! Under-canopy (ground) resistance: r = (1 - e^{-(L+S)}) / (C_s u*), C_s = 0.004 (CLM4.0).
module hm_turbulence
  use hm_constants, only: dp, pi, vkc, grav, zatm, z0m_soil, z0m_snow, z0m_ratio, displa_ratio, &
       kb_inv
  implicit none
  private

  real(dp), parameter :: zeta_min = -5._dp, zeta_max = 1._dp
  real(dp), parameter :: wind_min = 0.5_dp       !! wind floor (m s-1)
  real(dp), parameter :: csoilc = 0.004_dp       !! under-canopy transfer coefficient

  public :: roughness, zeta_from_richardson, aero_resistance, zeta_from_fluxes, &
       leaf_boundary_layer, undercanopy_resistance, wind_min

contains

  !> Patch roughness lengths and displacement height.
  pure subroutine roughness(vegh, fveg, fsno, z0m, z0h, displa)
    real(dp), intent(in) :: vegh     !! vegetation height (m)
    real(dp), intent(in) :: fveg     !! vegetated fraction of the patch (0 for bare)
    real(dp), intent(in) :: fsno     !! snow-covered fraction of the ground
    real(dp), intent(out) :: z0m     !! momentum roughness length (m)
    real(dp), intent(out) :: z0h     !! heat/vapour roughness length (m)
    real(dp), intent(out) :: displa  !! displacement height (m)
    real(dp) :: z0g
    z0g = exp(fsno * log(z0m_snow) + (1._dp - fsno) * log(z0m_soil))
    z0m = exp(fveg * log(z0m_ratio * vegh) + (1._dp - fveg) * log(z0g))
    z0h = z0m * exp(-kb_inv)
    displa = fveg * displa_ratio * vegh
  end subroutine roughness

  !> Integrated stability functions psi_m, psi_h at zeta.
  pure subroutine psi_functions(zeta, psim, psih)
    real(dp), intent(in) :: zeta   !! stability parameter (z - d) / L
    real(dp), intent(out) :: psim  !! momentum
    real(dp), intent(out) :: psih  !! heat and vapour
    real(dp) :: x
    if (zeta < 0._dp) then
      x = (1._dp - 16._dp * zeta)**0.25_dp
      psim = 2._dp * log(0.5_dp * (1._dp + x)) + log(0.5_dp * (1._dp + x * x)) - 2._dp * atan(x) &
           + 0.5_dp * pi
      psih = 2._dp * log(0.5_dp * (1._dp + x * x))
    else
      psim = -5._dp * zeta
      psih = -5._dp * zeta
    end if
  end subroutine psi_functions

  !> First guess of zeta from the bulk Richardson number (CLM4.5 eqs. 5.46-5.47).
  pure function zeta_from_richardson(wind, ta, ts, qa, qs, z0m) result(zeta)
    real(dp), intent(in) :: wind   !! wind speed (m s-1)
    real(dp), intent(in) :: ta     !! air temperature (K)
    real(dp), intent(in) :: ts     !! surface temperature (K)
    real(dp), intent(in) :: qa     !! air specific humidity (kg kg-1)
    real(dp), intent(in) :: qs     !! surface specific humidity (kg kg-1)
    real(dp), intent(in) :: z0m    !! momentum roughness (m)
    real(dp) :: zeta, z, u, thva, thvs, rib
    z = zatm + z0m
    u = max(wind, wind_min)
    thva = ta * (1._dp + 0.61_dp * qa)
    thvs = ts * (1._dp + 0.61_dp * qs)
    rib = grav * z * (thva - thvs) / (thva * u * u)   ! > 0 when stable (air warmer)
    if (rib >= 0._dp) then
      zeta = rib * log(z / z0m) / (1._dp - 5._dp * min(rib, 0.19_dp))
    else
      zeta = rib * log(z / z0m)
    end if
    zeta = min(max(zeta, zeta_min), zeta_max)
  end function zeta_from_richardson

  !> Friction velocity and aerodynamic resistances for momentum and heat at stability zeta.
  pure subroutine aero_resistance(wind, zeta, z0m, z0h, ustar, ram, rah)
    real(dp), intent(in) :: wind    !! wind speed (m s-1)
    real(dp), intent(in) :: zeta    !! stability parameter
    real(dp), intent(in) :: z0m     !! momentum roughness (m)
    real(dp), intent(in) :: z0h     !! heat roughness (m)
    real(dp), intent(out) :: ustar  !! friction velocity (m s-1)
    real(dp), intent(out) :: ram    !! aerodynamic resistance, momentum (s m-1)
    real(dp), intent(out) :: rah    !! aerodynamic resistance, heat and vapour (s m-1)
    real(dp) :: z, u, pm_z, ph_z, pm_0, ph_0, fm, fh
    z = zatm + z0m
    u = max(wind, wind_min)
    call psi_functions(zeta, pm_z, ph_z)
    call psi_functions(zeta * z0m / z, pm_0, ph_0)
    fm = max(log(z / z0m) - pm_z + pm_0, 0.1_dp)
    call psi_functions(zeta * z0h / z, pm_0, ph_0)
    fh = max(log(z / z0h) - ph_z + ph_0, 0.1_dp)
    ustar = vkc * u / fm
    ram = u / (ustar * ustar)
    rah = fh / (vkc * ustar)
  end subroutine aero_resistance

  !> zeta = (z - d) / L from the Obukhov length of the given fluxes (clipped).
  pure function zeta_from_fluxes(ustar, ta, qa, rho, sh, evap, z0m) result(zeta)
    real(dp), intent(in) :: ustar  !! friction velocity (m s-1)
    real(dp), intent(in) :: ta     !! air temperature (K)
    real(dp), intent(in) :: qa     !! air specific humidity (kg kg-1)
    real(dp), intent(in) :: rho    !! air density (kg m-3)
    real(dp), intent(in) :: sh     !! sensible heat flux (W m-2)
    real(dp), intent(in) :: evap   !! water vapour flux (kg m-2 s-1)
    real(dp), intent(in) :: z0m    !! momentum roughness (m)
    real(dp) :: zeta, thv, wthv
    thv = ta * (1._dp + 0.61_dp * qa)
    wthv = sh / (rho * 1004.64_dp) + 0.61_dp * ta * evap / rho
    zeta = -(zatm + z0m) * vkc * grav * wthv / (thv * ustar**3)
    zeta = min(max(zeta, zeta_min), zeta_max)
  end function zeta_from_fluxes

  !> Canopy boundary-layer resistances for heat and vapour (s m-1, per vegetated area).
  pure subroutine leaf_boundary_layer(ustar, vegh, lt, cdl, chl, rbh, rbw, uh)
    real(dp), intent(in) :: ustar  !! friction velocity (m s-1)
    real(dp), intent(in) :: vegh   !! vegetation height (m)
    real(dp), intent(in) :: lt     !! leaf + stem area per vegetated area (m2 m-2)
    real(dp), intent(in) :: cdl    !! leaf exchange coefficient, vapour
    real(dp), intent(in) :: chl    !! leaf exchange coefficient, heat
    real(dp), intent(out) :: rbh   !! boundary-layer resistance, heat (s m-1)
    real(dp), intent(out) :: rbw   !! boundary-layer resistance, vapour (s m-1)
    real(dp), intent(out) :: uh    !! wind speed at canopy top (m s-1)
    uh = ustar / vkc * log((1._dp - displa_ratio) / z0m_ratio)
    uh = max(uh, 0.1_dp)
    if (vegh <= 0._dp) uh = 0.1_dp
    rbh = 1._dp / (chl * uh * max(lt, 1.e-3_dp))
    rbw = 1._dp / (cdl * uh * max(lt, 1.e-3_dp))
  end subroutine leaf_boundary_layer

  !> Resistance between the ground under the canopy and the canopy air (s m-1).
  pure function undercanopy_resistance(ustar, lt) result(r)
    real(dp), intent(in) :: ustar  !! friction velocity (m s-1)
    real(dp), intent(in) :: lt     !! leaf + stem area per vegetated area (m2 m-2)
    real(dp) :: r
    r = (1._dp - exp(-lt)) / (csoilc * ustar)
  end function undercanopy_resistance

end module hm_turbulence
